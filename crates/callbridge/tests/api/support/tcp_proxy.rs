//! A TCP proxy a test puts between the app and its database, to play an outage without touching
//! the database server other tests share: [`TcpProxy::cut`] closes every open connection and
//! closes each new one as soon as it is accepted (what a restarting server looks like to its
//! clients); [`TcpProxy::restore`] lets connections through again.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Up,
    Cut,
}

#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    link: watch::Sender<Link>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// A proxy on a free local port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (link, _) = watch::channel(Link::Up);
        let accept = tokio::spawn(accept_loop(listener, upstream, link.clone()));
        Self { addr, link, accept }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection through the proxy, and every new one on arrival, until
    /// [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.link.send_replace(Link::Cut);
    }

    pub fn restore(&self) {
        self.link.send_replace(Link::Up);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        // Tunnels watch the link: cutting it ends them with the proxy.
        self.link.send_replace(Link::Cut);
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, link: watch::Sender<Link>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *link.borrow() == Link::Cut {
            // Accepted and dropped at once: the client reads end-of-stream before any reply.
            drop(client);
            continue;
        }
        tokio::spawn(tunnel(client, upstream, link.subscribe()));
    }
}

/// Copies both ways until either side closes or the link is cut; dropping both sockets then
/// closes them.
async fn tunnel(mut client: TcpStream, upstream: SocketAddr, mut link: watch::Receiver<Link>) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        // The cut first, so no byte crosses once it is seen.
        biased;
        _ = link.wait_for(|l| *l == Link::Cut) => {}
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An upstream that echoes every byte back.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn round_trip(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
        stream.write_all(b"ping").await?;
        let mut buf = vec![0; 4];
        stream.read_exact(&mut buf).await?;
        Ok(buf)
    }

    #[tokio::test]
    async fn forwards_until_cut_and_again_once_restored() {
        let proxy = TcpProxy::start(echo_server().await).await;
        let mut open = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut open).await.unwrap(), b"ping");

        proxy.cut();
        assert!(
            round_trip(&mut open).await.is_err(),
            "an open connection must be closed by the cut"
        );
        let mut during = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(
            round_trip(&mut during).await.is_err(),
            "a new connection must be closed while cut"
        );

        proxy.restore();
        let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut after).await.unwrap(), b"ping");
    }
}
