//! The time zones a number may ring in, from libphonenumber's prefix data (`time_zones.tsv`,
//! written by `scripts/time-zone-data`). The table is read on the first lookup, not when the
//! service starts.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono_tz::Tz;

use crate::domain::{LineKind, PhoneNumber};

static TABLE: LazyLock<Table> = LazyLock::new(|| Table::parse(include_str!("time_zones.tsv")));

/// The zones `number` may ring in: one where its prefix ties it to a place, several where the
/// prefix spans zones (or the number, like most mobiles, may be anywhere in its country), none
/// when it belongs to no country (`+800`, `+882`) or to no listed one.
pub(super) fn for_number(number: &PhoneNumber) -> &'static [Tz] {
    let digits = number.as_str().trim_start_matches('+');
    let line = number.line();
    let code = line.calling_code.to_string();
    if line.calling_code == 0 || !digits.starts_with(&code) {
        return &[];
    }
    // libphonenumber ties only fixed lines, and mobiles of the few countries whose mobile
    // numbers carry an area code, to the zone of their prefix: any other number is looked up by
    // its calling code alone, or a mobile whose prefix happens to match a city would be judged
    // by that city's clock.
    let geographical = match line.kind {
        LineKind::FixedLine | LineKind::FixedLineOrMobile => true,
        LineKind::Mobile => TABLE.geographical_mobile.contains(&line.calling_code),
        _ => false,
    };
    TABLE.longest_match(if geographical { digits } else { &code })
}

#[derive(Debug)]
struct Table {
    zones: HashMap<&'static str, Box<[Tz]>>,
    longest: usize,
    geographical_mobile: Vec<u16>,
}

impl Table {
    /// Reads the committed data file; a line it cannot read is a broken build artefact, which
    /// the tests of this module catch, so it panics rather than answering with fewer zones.
    fn parse(text: &'static str) -> Self {
        let mut zones = HashMap::new();
        let mut geographical_mobile = Vec::new();
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (key, value) = line
                .split_once('\t')
                .unwrap_or_else(|| panic!("time_zones.tsv: {line:?} is not KEY<TAB>VALUE"));
            if key == "geographical-mobile" {
                geographical_mobile = value
                    .split(' ')
                    .map(|code| {
                        code.parse()
                            .unwrap_or_else(|_| panic!("time_zones.tsv: {code:?} is no code"))
                    })
                    .collect();
                continue;
            }
            assert!(
                key.bytes().all(|b| b.is_ascii_digit()),
                "time_zones.tsv: {key:?} is not a prefix of digits"
            );
            let named = value
                .split('&')
                .map(|name| {
                    name.parse::<Tz>().unwrap_or_else(|_| {
                        panic!("time_zones.tsv: chrono-tz does not know the zone {name:?}")
                    })
                })
                .collect();
            zones.insert(key, named);
        }
        let longest = zones.keys().map(|k| k.len()).max().unwrap_or(0);
        Self {
            zones,
            longest,
            geographical_mobile,
        }
    }

    fn longest_match(&self, digits: &str) -> &[Tz] {
        (1..=digits.len().min(self.longest))
            .rev()
            .find_map(|len| self.zones.get(&digits[..len]))
            .map_or(&[], |zones| zones)
    }
}

#[cfg(test)]
mod tests {
    use chrono_tz::Tz::*;

    use super::*;

    fn zones(raw: &str) -> &'static [Tz] {
        for_number(&PhoneNumber::parse(raw).unwrap())
    }

    #[test]
    fn the_data_file_reads_whole_and_every_zone_is_known_to_chrono_tz() {
        let table = Table::parse(include_str!("time_zones.tsv"));
        assert!(table.zones.len() > 3000, "{} prefixes", table.zones.len());
        assert_eq!(table.longest, 8);
        assert_eq!(table.geographical_mobile, [52, 54, 55, 62, 86]);
        assert!(table.zones.values().all(|zones| !zones.is_empty()));
    }

    #[test]
    fn north_american_area_codes_name_their_zone() {
        assert_eq!(zones("+12125550123"), [America__New_York]);
        assert_eq!(zones("+14155550100"), [America__Los_Angeles]);
        assert_eq!(zones("+18085550123"), [Pacific__Honolulu]);
        assert_eq!(zones("+14165550123"), [America__Toronto]);
        assert_eq!(zones("+16045550123"), [America__Vancouver]);
    }

    #[test]
    fn european_fixed_lines_name_their_zone() {
        assert_eq!(zones("+442079460958"), [Europe__London]);
        assert_eq!(zones("+493012345678"), [Europe__Berlin]);
        assert_eq!(zones("+33142685300"), [Europe__Paris]);
    }

    #[test]
    fn australian_area_codes_tell_sydney_from_the_west_where_they_can() {
        assert_eq!(zones("+61291234567"), [Australia__Sydney]);
        // Area code 08 serves both South and Western Australia.
        assert_eq!(
            zones("+61892345678"),
            [Australia__Adelaide, Australia__Perth]
        );
    }

    #[test]
    fn brazilian_numbers_by_area_code_mobiles_included() {
        assert_eq!(zones("+551133334444"), [America__Sao_Paulo]);
        assert_eq!(zones("+5511987654321"), [America__Sao_Paulo]);
        assert_eq!(zones("+559233334444"), [America__Manaus]);
    }

    #[test]
    fn mobiles_without_area_codes_may_be_anywhere_in_their_country() {
        let australia = zones("+61412345678");
        assert_eq!(australia.len(), 8, "{australia:?}");
        assert!(australia.contains(&Australia__Perth) && australia.contains(&Australia__Sydney));
        let russia = zones("+79161234567");
        assert!(russia.contains(&Europe__Moscow) && russia.contains(&Asia__Kamchatka));
        assert_eq!(zones("+74951234567"), [Europe__Moscow]);
    }

    #[test]
    fn toll_free_numbers_are_judged_by_their_whole_calling_code() {
        let nanp = zones("+18005551212");
        assert_eq!(nanp.len(), 42, "{nanp:?}");
        assert!(nanp.contains(&Pacific__Guam) && nanp.contains(&Pacific__Pago_Pago));
        assert_eq!(zones("+12684601234"), [America__Antigua]);
    }

    #[test]
    fn a_number_of_no_country_has_no_zone() {
        let stored = PhoneNumber::from_stored("+80012345678".into()).unwrap();
        assert!(for_number(&stored).is_empty());
    }

    #[test]
    fn the_longest_listed_prefix_wins() {
        let table = Table::parse("1\tAmerica/New_York&Pacific/Guam\n1208\tAmerica/Boise\n");
        assert_eq!(table.longest_match("12085550123"), [America__Boise]);
        assert_eq!(table.longest_match("12125550123").len(), 2);
        assert!(table.longest_match("44").is_empty());
        assert!(table.longest_match("").is_empty());
    }
}
