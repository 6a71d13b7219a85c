//! The agent web app in a real browser: headless Chromium, driven through chromedriver, against
//! the real service and the simulator. Controls are found by their accessible names (labels and
//! button texts), as a person finds them. Each page is photographed at desktop and phone width
//! into `target/screenshots`.
//!
//! Without Chromium the tests say so and pass, unless `CALLBRIDGE_REQUIRE_BROWSER=1` (the test
//! command sets it, having installed Chromium), where they fail.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use twilio_sim::{Answer, NumberBehaviour};

use crate::calls_flow::{AGENT_PHONE, CUSTOMER, customer_who_answers, keen_agent};
use crate::helpers::{TestApp, backends, spawn_app_with, spawn_browser_app_with};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PATIENCE: Duration = Duration::from_secs(60);
const EMAIL: &str = "ada@example.com";

fn browser_installed() -> bool {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return true;
    }
    let why = format!(
        "{CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
    );
    if std::env::var("CALLBRIDGE_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("CALLBRIDGE_REQUIRE_BROWSER=1 but {why}");
    }
    eprintln!("skipping the web app test: {why}");
    false
}

/// A chromedriver of the test's own, ended with it (and the Chromium it started).
struct Driver {
    process: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let mut driver = Driver {
            process: Command::new(CHROMEDRIVER)
                .arg("--port=0")
                .process_group(0)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
            url: String::new(),
        };
        let out = BufReader::new(driver.process.stdout.take().unwrap());
        for line in out.lines() {
            let line = line.unwrap();
            if let Some((_, port)) = line.split_once("started successfully on port ") {
                driver.url = format!("http://127.0.0.1:{}", port.trim_end_matches('.'));
                return driver;
            }
        }
        panic!("chromedriver stopped before listening");
    }

    async fn browser(&self) -> Client {
        // A microphone the page may use without a person allowing it.
        self.browser_with(&[
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
        ])
        .await
    }

    async fn browser_with(&self, extra: &[&str]) -> Client {
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ];
        args.extend_from_slice(extra);
        let caps = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": args,
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.process.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.process.wait();
    }
}

/// A person at the browser: finds controls by their names.
struct Person<'a> {
    browser: Client,
    /// Where the app is: `http://127.0.0.1:PORT`.
    base: String,
    /// The test's app, whose simulator tells the codes it sent; `None` for an app the test did
    /// not start (the demo), whose pages say them.
    app: Option<&'a TestApp>,
}

impl<'a> Person<'a> {
    fn new(browser: Client, app: &'a TestApp) -> Self {
        Self {
            browser,
            base: app.address.clone(),
            app: Some(app),
        }
    }

    /// The code the simulator sent to `to`: from the simulator, or from the demo's page.
    async fn code_sent(&self, to: &str) -> String {
        if let Some(app) = self.app {
            return app.sim_otp(to).await;
        }
        self.until_text("p.note", "sent the code").await;
        let note = self.text_of("p.note").await;
        note.split("sent the code ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no code in {note:?}"))
            .to_owned()
    }

    async fn until_text(&self, css: &str, part: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(found) = self.browser.find(Locator::Css(css)).await
                && found.text().await.is_ok_and(|t| t.contains(part))
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never said {part:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn open(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn field(&self, label: &str) -> fantoccini::elements::Element {
        let xpath = format!("//label[normalize-space()=\"{label}\"]");
        let label_el = self
            .browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no field labelled {label:?}: {e}"));
        match label_el.attr("for").await.unwrap() {
            Some(id) => self.browser.find(Locator::Id(&id)).await.unwrap(),
            None => label_el.find(Locator::Css("input")).await.unwrap(),
        }
    }

    async fn type_into(&self, label: &str, text: &str) {
        let field = self.field(label).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn press(&self, name: &str) {
        self.activate(&format!("//button[normalize-space()='{name}']"), name)
            .await;
    }

    async fn follow_link(&self, name: &str) {
        self.activate(&format!("//a[normalize-space()='{name}']"), name)
            .await;
    }

    async fn activate(&self, xpath: &str, name: &str) {
        let target = self
            .browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("nothing named {name:?} to press: {e}"));
        target.click().await.unwrap();
    }

    /// The element's text; the live panel redraws its parts as events come, so an element
    /// found may be replaced before it is read: then it is found again.
    async fn text_of(&self, css: &str) -> String {
        let mut last = None;
        for _ in 0..10 {
            match self.browser.find(Locator::Css(css)).await {
                Ok(element) => match element.text().await {
                    Ok(text) => return text,
                    Err(e) => last = Some(e),
                },
                Err(e) => last = Some(e),
            }
        }
        panic!("cannot read {css}: {last:?}")
    }

    /// Polls the page (the browser has no event to wait on) until `css` matches.
    async fn until(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(found) => found,
            Err(e) => {
                let shown = match self.browser.find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("{css} never appeared ({e}); the page shows:\n{shown}")
            }
        }
    }

    /// Polls the page until nothing matches `css` (an element hidden, or taken away).
    async fn until_gone(&self, css: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let found = self.browser.find_all(Locator::Css(css)).await.unwrap();
            if found.is_empty() {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{css} never went away"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for a navigation: the page's address comes to contain `part`.
    async fn until_url(&self, part: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let url = self.browser.current_url().await.unwrap();
            if url.as_str().contains(part) && self.browser.find(Locator::Css("main")).await.is_ok()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached a page with {part}: {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn call_state(&self, state: &str) {
        let selector = format!("[role='status'][data-call-state='{state}']");
        self.until(&selector).await;
        assert!(!self.text_of(&selector).await.is_empty());
    }

    /// Runs axe-core (WCAG 2 A and AA rules) on the page as it is, failing on any violation.
    async fn assert_accessible(&self, name: &str) {
        let Some(axe) = axe_core() else {
            return;
        };
        self.browser
            .execute(&format!("{axe}\nreturn typeof axe;"), vec![])
            .await
            .expect("axe-core loads");
        let found = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact,
                      nodes: v.nodes.map((n) => n.target.join(' ')) }))))
                   .catch((e) => done([{ id: 'axe failed', impact: String(e), nodes: [] }]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(found, json!([]), "axe-core finds violations on {name}");
    }

    /// The page and what it loaded weigh under 100 KB; the Voice SDK and a call's recording
    /// (media, which the page streams when asked) are not counted.
    async fn assert_light(&self, name: &str) {
        let bytes = self
            .browser
            .execute(
                "const page = new Blob([document.documentElement.outerHTML]).size;
                 const loaded = performance.getEntriesByType('resource')
                   .filter((r) => !r.name.includes('voice-sdk') && !r.name.includes('/recording'))
                   .reduce((n, r) => n + (r.decodedBodySize || 0), 0);
                 return page + loaded;",
                vec![],
            )
            .await
            .unwrap()
            .as_u64()
            .unwrap();
        assert!(bytes < 100 * 1024, "{name} weighs {bytes} bytes");
    }

    async fn photograph(&self, name: &str) {
        self.assert_accessible(name).await;
        self.assert_light(name).await;
        let dir = screenshots();
        std::fs::create_dir_all(&dir).unwrap();
        for (width, height, suffix) in [(1280, 900, "desktop"), (390, 844, "phone")] {
            self.browser.set_window_size(width, height).await.unwrap();
            let png = self.browser.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{suffix}.png")), png).unwrap();
        }
        self.browser.set_window_size(1280, 900).await.unwrap();
    }

    async fn sign_in(&self, phone_typed: &str) {
        self.sign_in_as(EMAIL, Some(phone_typed), AGENT_PHONE).await;
    }

    /// Signs in as `email`; `phone_typed` is what the person types at the phone step, `None`
    /// for an agent whose phone is known, who is texted at once.
    async fn sign_in_as(&self, email: &str, phone_typed: Option<&str>, phone: &str) {
        self.open("/").await;
        self.type_into("Email", email).await;
        self.press("Send code").await;
        // The code step is the sign that the code went out.
        self.until("form[action='/sign-in/email/code']").await;
        let code = self.code_sent(email).await;
        self.type_into("Code", &code).await;
        self.press("Verify").await;
        if let Some(typed) = phone_typed {
            self.until("form[action='/sign-in/phone']").await;
            self.type_into("Phone", typed).await;
            self.press("Send code").await;
        }
        self.until("form[action='/sign-in/phone/code']").await;
        let code = self.code_sent(phone).await;
        self.type_into("Code", &code).await;
        self.press("Verify").await;
        self.until("form#dialer").await;
    }

    async fn dial(&self, typed: &str, expect_note: &str) {
        self.type_into("Number", typed).await;
        let xpath = format!("//p[@id='number-note'][contains(., '{expect_note}')]");
        self.browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("the note never said {expect_note:?}: {e}"));
    }
}

/// axe-core's script, which the test command installs (`AXE_CORE_JS`); without it the checks
/// are skipped, unless the browser tests are required.
fn axe_core() -> Option<String> {
    let path = std::env::var_os("AXE_CORE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../target/web-tools/node_modules/axe-core/axe.min.js")
        });
    match std::fs::read_to_string(&path) {
        Ok(script) => Some(script),
        Err(_) if std::env::var("CALLBRIDGE_REQUIRE_BROWSER").as_deref() == Ok("1") => {
            panic!(
                "CALLBRIDGE_REQUIRE_BROWSER=1 but axe-core is not at {}",
                path.display()
            )
        }
        Err(_) => {
            eprintln!(
                "skipping the accessibility checks: no axe-core at {}",
                path.display()
            );
            None
        }
    }
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("screenshots")
}

async fn spawn() -> TestApp {
    let db = backends().await.remove(0);
    spawn_app_with(db, |raw| {
        raw.allowed_email_domains = Some("example.com".into())
    })
    .await
}

#[tokio::test]
async fn an_agent_signs_in_calls_hangs_up_finds_the_call_and_signs_out() {
    if !browser_installed() {
        return;
    }
    let app = spawn().await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);

    person.open("/").await;
    person.until("input#email").await;
    person.photograph("sign-in").await;
    // The phone as people write it, in the caller ID's country.
    person.sign_in("(415) 555-0101").await;

    person.dial("(202) 555-0123", "Calls +12025550123").await;
    person.field("Record").await.click().await.unwrap();
    // Enter calls.
    person
        .field("Number")
        .await
        .send_keys("\u{E007}")
        .await
        .unwrap();
    person.call_state("connected").await;
    person
        .until("#legs li[data-role='recipient'][data-status='in-progress']")
        .await;
    person.photograph("call").await;
    person.press("Hang up").await;
    person.call_state("completed").await;

    person.follow_link("Calls").await;
    let row = person.until("tr[data-call-id]").await;
    let id = row.attr("data-call-id").await.unwrap().unwrap();
    assert_eq!(
        row.attr("data-call-state").await.unwrap().as_deref(),
        Some("completed")
    );
    person.photograph("calls").await;
    // The recording is written once Twilio has finished it: the page shows it then.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        person.open(&format!("/history/{id}")).await;
        if person.browser.find(Locator::Css("audio")).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the recording never showed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(person.text_of("#outcome").await.contains("Call ended"));
    let played = person
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(document.querySelector('audio').src)
               .then(async (r) => done([r.status, r.headers.get('content-type'), (await r.arrayBuffer()).byteLength]))
               .catch((e) => done([0, String(e), 0]));",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(played[0], 200, "{played}");
    assert_eq!(played[1], "audio/mpeg");
    assert!(played[2].as_u64().unwrap() > 0);
    person.photograph("call-page").await;

    person.press("Sign out").await;
    person.until("input#email").await;
    person.open("/history").await;
    person.until("input#email").await;

    // Another agent finds nothing of Ada's: not the call, not its recording.
    crate::calls_flow::agent(&app, "bob@example.com", "+14155550177", false).await;
    person
        .sign_in_as("bob@example.com", None, "+14155550177")
        .await;
    person.open(&format!("/history/{id}")).await;
    assert!(person.text_of("main").await.contains("No such call"));
    let theirs = person
        .browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             fetch(arguments[0]).then((r) => done(r.status));",
            vec![json!(format!("/calls/{id}/recording"))],
        )
        .await
        .unwrap();
    assert_eq!(theirs, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_refused_number_is_named_at_once_and_a_busy_customer_is_said_in_words() {
    if !browser_installed() {
        return;
    }
    let app = spawn().await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(
        CUSTOMER,
        NumberBehaviour {
            answer: Answer::Busy,
            ..NumberBehaviour::default()
        },
    );
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    // Sign-in says why it refuses: a domain not allowed, a wrong code.
    person.open("/sign-in").await;
    person.type_into("Email", "eve@elsewhere.test").await;
    person.press("Send code").await;
    person.until("[role='alert']").await;
    let refused = person.text_of("[role='alert']").await;
    assert!(refused.contains("@example.com"), "{refused}");
    person.type_into("Email", EMAIL).await;
    person.press("Send code").await;
    person.until("form[action='/sign-in/email/code']").await;
    person.type_into("Code", "000000").await;
    person.press("Verify").await;
    person
        .until("form[action='/sign-in/email/code'] ~ p, [role='alert']")
        .await;
    let refused = person.text_of("[role='alert']").await;
    assert!(!refused.is_empty(), "a wrong code is said");
    person.photograph("sign-in-refused").await;
    person.sign_in("+1 415 555 0101").await;

    person.dial("+44 20 7183 8750", "cannot be called").await;
    let invalid = person
        .field("Number")
        .await
        .attr("aria-invalid")
        .await
        .unwrap();
    assert_eq!(invalid.as_deref(), Some("true"));
    person.press("Call").await;
    assert_eq!(
        person
            .until("[role='status']")
            .await
            .attr("data-call-state")
            .await
            .unwrap()
            .as_deref(),
        Some(""),
        "nothing was dialled"
    );

    person.dial("(202) 555-0123", "Calls +12025550123").await;
    person.press("Call").await;
    person.call_state("failed").await;
    let said = person.text_of("[role='status']").await;
    assert!(said.contains("busy"), "{said}");
    person.photograph("busy").await;
    app.stop().await;
}

#[tokio::test]
async fn an_agent_talks_from_the_browser_with_the_keypad_and_mute() {
    if !browser_installed() {
        return;
    }
    let db = backends().await.remove(0);
    let app = spawn_browser_app_with(db, |raw| {
        raw.allowed_email_domains = Some("example.com".into());
    })
    .await;
    app.sim.set_number(CUSTOMER, customer_who_answers());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    person.sign_in("(415) 555-0101").await;

    let browser_choice = person
        .browser
        .find(Locator::XPath("//fieldset[legend[normalize-space()='Talk from']]//label[normalize-space()='Browser']/input"))
        .await
        .unwrap();
    browser_choice.click().await.unwrap();
    person.dial("(202) 555-0123", "Calls +12025550123").await;
    person.press("Call").await;
    person.call_state("connected").await;
    person.until("#legs li[data-role='agent']").await;
    let agent_leg = person.text_of("#legs li[data-role='agent']").await;
    assert!(agent_leg.contains("client:agent_"), "{agent_leg}");
    person
        .browser
        .find(Locator::Css("[aria-label='Key 5']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    person.press("Mute").await;
    let mute = person.until("#mute[aria-pressed='true']").await;
    assert_eq!(mute.text().await.unwrap(), "Unmute");
    person.photograph("browser-call").await;
    // Escape hangs up.
    person
        .browser
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E00C}")
        .await
        .unwrap();
    person.call_state("completed").await;
    let calls = crate::helpers::sim_calls_to(&app.sim, CUSTOMER).await;
    let (browser, dialled): (Vec<&Value>, Vec<&Value>) =
        calls.iter().partition(|c| c["direction"] == "inbound");
    assert_eq!(dialled.len(), 1, "one customer leg: {calls:?}");
    assert_eq!(browser.len(), 1, "the browser's own call: {calls:?}");
    let pressed = browser[0]["timeline"].as_array().unwrap();
    assert!(
        pressed.iter().any(|t| t["event"] == "pressed 5"),
        "the keypad's digit reached Twilio: {pressed:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_web_demo_lets_a_newcomer_sign_in_and_call_with_nothing_but_a_browser() {
    if !browser_installed() {
        return;
    }
    let mut demo = Command::new(env!("CARGO_BIN_EXE_callbridge"))
        .args(["demo", "--web", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the demo starts");
    let mut out = BufReader::new(demo.stdout.take().unwrap()).lines();
    let mut url = None;
    for line in out.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("Open ") {
            url = Some(rest.trim_end_matches('/').to_owned());
            break;
        }
    }
    let url = url.expect("the demo prints where to open it");
    let people = out
        .by_ref()
        .map(Result::unwrap)
        .find_map(|line| {
            line.split_whitespace()
                .find(|w| w.ends_with("/sim/"))
                .map(str::to_owned)
        })
        .expect("the demo prints where the phones ring");
    // The rest of what it prints is read too: a closed pipe would end it.
    std::thread::spawn(move || out.for_each(drop));
    let driver = Driver::start();
    let person = Person {
        browser: driver.browser().await,
        base: url,
        app: None,
    };
    person
        .sign_in_as(
            "newcomer@example.com",
            Some("(415) 555-0199"),
            "+14155550199",
        )
        .await;
    person.dial("(202) 555-0144", "Calls +12025550144").await;
    person.press("Call").await;
    // The other people are played on the simulator's page, in a window of their own.
    let phones = driver.browser().await;
    phones.goto(&people).await.unwrap();
    let on_phone = |number: &'static str, status: &'static str, name: &'static str| {
        let phones = phones.clone();
        async move {
            let css = format!("li.phone[data-number='{number}'][data-status='{status}']");
            let xpath = format!(".//button[normalize-space()='{name}' or @aria-label='{name}']");
            // The page redraws its phones as the simulator's calls move, so an element found
            // may be replaced before it is clicked: then it is found again.
            let mut redrawn = 0;
            loop {
                let phone = phones
                    .wait()
                    .at_most(PATIENCE)
                    .for_element(Locator::Css(&css))
                    .await
                    .map_err(|e| e.to_string());
                let phone = match phone {
                    Ok(phone) => phone,
                    Err(e) => {
                        let shown = phones
                            .find(Locator::Css("body"))
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap();
                        let calls = phones
                            .execute_async(
                                "const done = arguments[0]; fetch('/sim/calls').then((r) => r.text()).then(done);",
                                vec![],
                            )
                            .await
                            .unwrap();
                        panic!("{number} is never {status} on the page ({e}):\n{shown}\n{calls}")
                    }
                };
                let clicked = match phone.find(Locator::XPath(&xpath)).await {
                    Ok(button) => button.click().await,
                    Err(e) => Err(e),
                };
                match clicked {
                    Ok(()) => break,
                    Err(fantoccini::error::CmdError::Standard(e))
                        if e.error == fantoccini::error::ErrorStatus::StaleElementReference
                            && redrawn < 20 =>
                    {
                        redrawn += 1;
                    }
                    Err(e) => panic!("{name} on {number}: {e}"),
                }
            }
        }
    };
    on_phone("+14155550199", "ringing", "Answer").await;
    on_phone("+14155550199", "in-progress", "Key 1").await;
    on_phone("+12025550144", "ringing", "Answer").await;
    person.call_state("connected").await;
    person.press("Hang up").await;
    person.call_state("completed").await;
    // Once more, and the customer says busy.
    person.press("Call").await;
    on_phone("+14155550199", "ringing", "Answer").await;
    on_phone("+14155550199", "in-progress", "Key 1").await;
    on_phone("+12025550144", "ringing", "Busy").await;
    person.call_state("failed").await;
    let said = person.text_of("[role='status']").await;
    assert!(said.contains("busy"), "{said}");
    phones.close().await.ok();
    person.browser.close().await.ok();
    let _ = Command::new("kill")
        .args(["-INT", &demo.id().to_string()])
        .status();
    let status = demo.wait().unwrap();
    assert!(status.success(), "Ctrl-C ends the demo cleanly: {status}");
}

#[tokio::test]
async fn the_first_agent_invites_and_revokes_agents_and_others_may_not() {
    if !browser_installed() {
        return;
    }
    let app = spawn().await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    person.sign_in("(415) 555-0101").await;
    // Bob comes second: he is no administrator until promoted.
    let (bob, _) = crate::calls_flow::agent(&app, "bob@example.com", "+14155550177", false).await;

    person.follow_link("Agents").await;
    person.until("tr[data-agent='bob@example.com']").await;
    person
        .type_into("Invite by email", "carol@partner.test")
        .await;
    person.press("Invite").await;
    let done = person.until("p.note[role='status']").await;
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Invited carol@partner.test")
    );
    let carol = callbridge::domain::EmailAddress::parse("carol@partner.test").unwrap();
    assert!(app.store.is_invited(&carol).await.unwrap());

    person
        .browser
        .find(Locator::Css("[aria-label='Revoke bob@example.com']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    person.until("tr[data-agent='bob@example.com']").await;
    let row = person.text_of("tr[data-agent='bob@example.com']").await;
    assert!(row.contains("revoked"), "{row}");
    assert!(
        app.store
            .agent_by_id(bob.id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(
        person
            .browser
            .find(Locator::Css("[aria-label='Revoke ada@example.com']"))
            .await
            .is_err(),
        "nobody revokes themselves here"
    );
    person.photograph("agents").await;

    // An agent already known signs in with the email's code and the one texted at once to
    // the phone on file; not an administrator, they see no Agents link and the page refuses.
    crate::calls_flow::agent(&app, "dan@example.com", "+14155550188", false).await;
    person.press("Sign out").await;
    person.until("input#email").await;
    person
        .sign_in_as("dan@example.com", None, "+14155550188")
        .await;
    assert!(
        person
            .browser
            .find(Locator::XPath("//a[normalize-space()='Agents']"))
            .await
            .is_err()
    );
    person.open("/admin").await;
    let refused = person.text_of("main").await;
    assert!(refused.contains("Only an administrator"), "{refused}");
    app.stop().await;
}

#[tokio::test]
async fn campaigns_start_pause_resume_and_finish_from_the_page() {
    if !browser_installed() {
        return;
    }
    let fake = airtable::fake::FakeAirtable::start(airtable::fake::FakeConfig::default()).await;
    let db = backends().await.remove(0);
    let app = spawn_app_with(db, |raw| {
        crate::airtable_call::with_airtable(raw, &fake);
        raw.allowed_email_domains = Some("example.com".into());
    })
    .await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    // The first customer stays on the line until the test hangs up, so the campaign is
    // running while the page pauses and resumes it; the second talks briefly.
    let (first, second) = ("+12025550161", "+12025550162");
    app.sim.set_number(first, customer_who_answers());
    app.sim
        .set_number(second, crate::airtable_call::talker(300));
    let records: Vec<String> = [first, second]
        .iter()
        .map(|phone| fake.insert_record(json!({"Phone": phone})))
        .collect();
    fake.set_view("To call", records.clone());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    person.sign_in("(415) 555-0101").await;

    person.follow_link("Campaigns").await;
    person.type_into("Airtable view to call", "To call").await;
    person.press("Start campaign").await;
    person.until("tr[data-campaign]").await;
    person.press("Pause").await;
    person.until("tr[data-status='paused']").await;
    person.photograph("campaigns").await;
    person.press("Resume").await;
    person
        .until("tr[data-status='running'] [data-action='pause']")
        .await;
    // The first call is up: its customer hangs up, and the campaign goes on to the second.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let talking = loop {
        let calls = crate::helpers::sim_calls_to(&app.sim, first).await;
        if let Some(call) = calls.iter().find(|c| c["status"] == "in-progress") {
            break call["sid"].as_str().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first customer never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    crate::helpers::sim_hang_up(&app.sim, &talking).await;
    person.until("tr[data-status='completed']").await;
    let done = person.text_of("tr[data-campaign] .campaign-done").await;
    assert_eq!(done, "2 of 2");
    // Written back through the outbox, after the page saw the campaign end.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for record in &records {
        loop {
            let status = crate::airtable_call::statuses(&fake, record);
            if status.last().map(String::as_str) == Some("completed") {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{record}: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    app.stop().await;
}

/// Customers in a zone whose clock shows between 09:00 and 20:00 now, so the default calling
/// hours (08:00 to 21:00) let them be rung whenever the test runs: New York, London or Tokyo,
/// one of which always qualifies.
fn numbers_inside_calling_hours() -> [&'static str; 3] {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let inside = |zone: chrono_tz::Tz| (9..20).contains(&now.with_timezone(&zone).hour());
    if inside(chrono_tz::America::New_York) {
        ["+12025550171", "+12025550172", "+12025550173"]
    } else if inside(chrono_tz::Europe::London) {
        ["+442079460171", "+442079460172", "+442079460173"]
    } else {
        ["+81312345671", "+81312345672", "+81312345673"]
    }
}

#[tokio::test]
async fn an_agent_works_three_records_in_a_row_with_dispositions_from_the_page() {
    three_records_in_a_row("Join by phone").await;
}

#[tokio::test]
async fn an_agent_works_a_session_from_the_browser_with_dispositions() {
    three_records_in_a_row("Join in the browser").await;
}

/// An agent starts a session campaign on the page, joins it with `join`, and wraps up three
/// people in a row.
async fn three_records_in_a_row(join: &str) {
    if !browser_installed() {
        return;
    }
    let fake = airtable::fake::FakeAirtable::start(airtable::fake::FakeConfig::default()).await;
    let db = backends().await.remove(0);
    let configure = |raw: &mut callbridge::config::RawSettings| {
        crate::airtable_call::with_airtable(raw, &fake);
        raw.allowed_email_domains = Some("example.com".into());
        raw.allowed_destinations = Some("US,GB,JP".into());
        raw.calls_per_second = Some("20".into());
    };
    let app = if join == "Join in the browser" {
        spawn_browser_app_with(db, configure).await
    } else {
        spawn_app_with(db, configure).await
    };
    app.sim.set_number(AGENT_PHONE, keen_agent());
    let numbers = numbers_inside_calling_hours();
    for number in numbers {
        app.sim
            .set_number(number, crate::airtable_call::talker(30_000));
    }
    let records: Vec<String> = numbers
        .iter()
        .map(|phone| fake.insert_record(json!({"Phone": phone})))
        .collect();
    fake.set_view("To call", records.clone());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    person.sign_in("(415) 555-0101").await;

    person.follow_link("Campaigns").await;
    person.type_into("Airtable view to call", "To call").await;
    person
        .field("Work it in a session")
        .await
        .click()
        .await
        .unwrap();
    person
        .type_into("Outcomes, comma-separated", "Sale, Call back, No interest")
        .await;
    person
        .type_into("Voicemail message", "Sorry we missed you.")
        .await;
    person.press("Start campaign").await;
    person.until("[data-session-campaign]").await;
    person.press(join).await;

    let picked = ["Sale", "No interest", "Call back"];
    for (round, outcome) in picked.iter().enumerate() {
        person.until(".wrap-up:not([hidden])").await;
        if round == 0 && join == "Join by phone" {
            person.photograph("campaign-session-wrap-up").await;
        }
        // The third person is talked to: all three were dialled, and were people.
        if round == 2 {
            person
                .until_text(".session-counts", "Dialled 3 · people 3")
                .await;
        }
        person.field(outcome).await.click().await.unwrap();
        person.type_into("Notes", &format!("note {round}")).await;
        person.press("Submit outcome").await;
        // The form hides, or, after the last record, the panel of the finished campaign goes.
        person.until_gone(".wrap-up:not([hidden])").await;
    }
    // Written back through the outbox: each record once, with the outcome picked for it.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    for (round, record) in records.iter().enumerate() {
        loop {
            let written = fake.field_history(record, "Disposition");
            if !written.is_empty() {
                assert_eq!(written, [json!(picked[round])], "{record}");
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{record} not written"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            crate::airtable_call::statuses(&fake, record),
            ["completed"],
            "{record}"
        );
        assert_eq!(
            fake.record(record).unwrap()["Notes"],
            json!(format!("note {round}"))
        );
    }
    // Every record has its outcome: the campaign completes and its agent is let go.
    person.until("tr[data-status='completed']").await;
    app.stop().await;
}

#[tokio::test]
async fn a_refused_microphone_is_said_and_nothing_is_dialled() {
    if !browser_installed() {
        return;
    }
    let db = backends().await.remove(0);
    let app = spawn_browser_app_with(db, |raw| {
        raw.allowed_email_domains = Some("example.com".into());
    })
    .await;
    let driver = Driver::start();
    // A browser whose person says no to every permission.
    let browser = driver
        .browser_with(&[
            "--use-fake-device-for-media-stream",
            "--deny-permission-prompts",
        ])
        .await;
    let person = Person::new(browser, &app);
    person.sign_in("(415) 555-0101").await;
    person
        .browser
        .find(Locator::XPath(
            "//fieldset[legend[normalize-space()='Talk from']]//label[normalize-space()='Browser']/input",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    person.dial("(202) 555-0123", "Calls +12025550123").await;
    person.press("Call").await;
    person.until("#call-problem:not([hidden])").await;
    let said = person.text_of("#call-problem").await;
    assert!(said.contains("microphone"), "{said}");
    assert!(
        crate::helpers::sim_calls_to(&app.sim, CUSTOMER)
            .await
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_call_log_pages_and_filters_by_state_date_and_number() {
    if !browser_installed() {
        return;
    }
    let app = spawn().await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    person.sign_in("(415) 555-0101").await;
    let ada = app
        .store
        .agent_by_email(&callbridge::domain::EmailAddress::parse(EMAIL).unwrap())
        .await
        .unwrap()
        .unwrap();
    // 22 calls to the usual customer, 3 of them failed busy, and 3 to another number.
    for i in 0..25 {
        let recipient = if i < 22 { CUSTOMER } else { "+12025550199" };
        let call = app
            .store
            .create_call(callbridge::store::NewCall {
                mode: callbridge::domain::CallMode::Phone,
                agent_id: ada.id,
                recipient: callbridge::domain::PhoneNumber::parse(recipient).unwrap(),
                agent_endpoint: ada.phone.clone().unwrap().into(),
                label: Some(format!("call {i}")),
                record: false,
            })
            .await
            .unwrap();
        let (state, reason) = if i % 7 == 0 {
            (
                callbridge::domain::CallState::Failed,
                Some("recipient_busy"),
            )
        } else {
            (callbridge::domain::CallState::Completed, None)
        };
        app.store
            .set_call_state(call.id, state, reason)
            .await
            .unwrap();
    }
    let rows = |person: &Person<'_>| {
        let browser = person.browser.clone();
        async move {
            browser
                .find_all(Locator::Css("tr[data-call-id]"))
                .await
                .unwrap()
                .len()
        }
    };

    person.follow_link("Calls").await;
    person.until("tr[data-call-id]").await;
    assert_eq!(rows(&person).await, 20, "a page holds 20 calls");
    person.follow_link("Older calls").await;
    person.until_url("before=").await;
    assert_eq!(rows(&person).await, 5);
    assert!(
        person
            .browser
            .find(Locator::XPath("//a[normalize-space()='Older calls']"))
            .await
            .is_err()
    );

    person.open("/history").await;
    let state = person.field("State").await;
    state.select_by_value("failed").await.unwrap();
    person.press("Filter").await;
    person.until_url("state=failed").await;
    assert_eq!(rows(&person).await, 4, "calls 0, 7, 14 and 21 failed");
    assert!(
        person
            .browser
            .find(Locator::Css("tr[data-call-state='completed']"))
            .await
            .is_err()
    );
    assert!(person.text_of("tr[data-call-id]").await.contains("busy"));

    person.open("/history").await;
    person.type_into("Customer's number", "0199").await;
    person.press("Filter").await;
    person.until_url("number=0199").await;
    assert_eq!(rows(&person).await, 3);

    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    person.open(&format!("/history?from={tomorrow}")).await;
    person.until("main").await;
    assert!(person.text_of("main").await.contains("No calls here yet"));
    let today = chrono::Utc::now().format("%Y-%m-%d");
    person
        .open(&format!("/history?from={today}&to={today}&number=0199"))
        .await;
    person.until("tr[data-call-id]").await;
    assert_eq!(rows(&person).await, 3);
    app.stop().await;
}

#[tokio::test]
async fn an_agent_holds_mutes_and_hands_the_call_over_after_talking_to_the_target() {
    if !browser_installed() {
        return;
    }
    let target = "+12025550177";
    let app = spawn().await;
    app.sim.set_number(AGENT_PHONE, keen_agent());
    app.sim.set_number(CUSTOMER, customer_who_answers());
    app.sim.set_number(target, customer_who_answers());
    let driver = Driver::start();
    let person = Person::new(driver.browser().await, &app);
    person.sign_in("(415) 555-0101").await;
    person.dial("(202) 555-0123", "Calls +12025550123").await;
    person.press("Call").await;
    person.call_state("connected").await;
    person
        .until("#legs li[data-party='customer'][data-status='in-progress']")
        .await;

    person.until("#hold-customer:not([disabled])").await;
    person.press("Hold customer").await;
    person
        .until("#legs li[data-party='customer'][data-hold='true']")
        .await;
    person.until("#hold-customer[aria-pressed='true']").await;
    person.photograph("call-on-hold").await;
    person.press("Hold customer").await;
    person
        .until("#legs li[data-party='customer'][data-hold='false']")
        .await;

    person.press("Mute me").await;
    person
        .until("#legs li[data-party='agent'][data-muted='true']")
        .await;
    person.until("#mute-me[aria-pressed='true']").await;
    person.press("Mute me").await;
    person
        .until("#legs li[data-party='agent'][data-muted='false']")
        .await;

    // Warm is the default: the agent talks to the target, the customer waits on hold.
    person.type_into("To a number or an agent", target).await;
    person.press("Transfer").await;
    person
        .until("#legs li[data-party='third'][data-status='in-progress']")
        .await;
    person
        .until("#legs li[data-party='customer'][data-hold='true']")
        .await;
    person.until("#transfer-complete:not([hidden])").await;
    person.assert_accessible("a warm transfer").await;
    person.photograph("warm-transfer").await;
    person.press("Complete transfer").await;
    person
        .until("#legs li[data-party='agent'][data-status='completed']")
        .await;
    person
        .until("#legs li[data-party='customer'][data-hold='false']")
        .await;
    person.call_state("connected").await;
    person.assert_light("the dialer in a transfer").await;
    person.press("Hang up").await;
    person.call_state("completed").await;
    app.stop().await;
}
