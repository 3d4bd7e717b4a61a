//! What keeps web pages out: a page the developer has open may open a WebSocket to
//! `ws://127.0.0.1:PORT` (browsers send its `Origin`), or reach the port through a DNS name it
//! controls that resolves to 127.0.0.1 (DNS rebinding: the `Host` is then that name).
//! Non-browser clients (CLIs, SDKs) send no `Origin` and an address as `Host`.

use std::net::IpAddr;

use hyper::HeaderMap;

/// Which requests get through, decided from the headers alone.
pub(crate) struct Browsers {
    /// The address the gateway listens on (unspecified for a wildcard bind).
    listen: IpAddr,
    /// Origins allowed beside loopback ones, lower-cased, without a trailing `/`; `*`: any.
    allowed_origins: Vec<String>,
}

/// Why a request was refused (the status, and a line for the log and the body).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    Origin(String),
    Host(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Origin(origin) => write!(
                f,
                "Origin {origin} is not allowed: only loopback pages may connect (cargo xtask dev --allow-origin {origin} allows it)"
            ),
            Refused::Host(host) => write!(
                f,
                "Host {host} is not this gateway's address (a DNS name pointing at loopback is refused)"
            ),
        }
    }
}

impl Browsers {
    pub(crate) fn new(listen: IpAddr, allowed_origins: &[String]) -> Browsers {
        Browsers {
            listen,
            allowed_origins: allowed_origins
                .iter()
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        }
    }

    /// Checks `Host` and `Origin` (each may be absent: HTTP/1.0 and non-browser clients).
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let text = |name| {
            headers
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        if let Some(host) = text(hyper::header::HOST)
            && !self.host_allowed(&host)
        {
            return Err(Refused::Host(host));
        }
        if let Some(origin) = text(hyper::header::ORIGIN)
            && !self.origin_allowed(&origin)
        {
            return Err(Refused::Origin(origin));
        }
        Ok(())
    }

    /// `localhost` and loopback addresses always; the listen address; any address literal when
    /// bound to all interfaces (the machine's addresses are many, and rebinding needs a name).
    fn host_allowed(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        if is_loopback_name(&name) {
            return true;
        }
        match name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => ip.is_loopback() || ip == self.listen || self.listen.is_unspecified(),
            Err(_) => false,
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim().trim_end_matches('/').to_ascii_lowercase();
        if self
            .allowed_origins
            .iter()
            .any(|allowed| allowed == "*" || *allowed == origin)
        {
            return true;
        }
        // `scheme://host[:port]`; `null` (a file, a sandboxed frame) is no loopback page.
        let Some((_, authority)) = origin.split_once("://") else {
            return false;
        };
        host_name(authority).is_some_and(|name| {
            is_loopback_name(&name)
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
    }
}

/// The name of `host[:port]` or `[v6][:port]`, lower-cased; `None` when malformed.
fn host_name(authority: &str) -> Option<String> {
    let authority = authority.trim().to_ascii_lowercase();
    let name = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let rest = &authority[end + 1..];
        if !(rest.is_empty() || rest.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        authority[..=end].to_owned()
    } else {
        match authority.split_once(':') {
            Some((name, port)) if is_port(port) => name.to_owned(),
            Some(_) => return None,
            None => authority,
        }
    };
    (!name.is_empty()).then_some(name)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// `localhost` and its subdomains, which browsers and resolvers keep on loopback (RFC 6761).
fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.');
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn loopback_pages_and_clients_without_origin_get_through() {
        let b = Browsers::new(IpAddr::V4(Ipv4Addr::LOCALHOST), &[]);
        for origin in [
            "http://localhost:5173",
            "https://127.0.0.1",
            "http://[::1]:8080",
            "http://app.localhost:3000",
            "HTTP://LOCALHOST",
        ] {
            assert_eq!(
                b.check(&headers(&[("host", "127.0.0.1:3001"), ("origin", origin)])),
                Ok(()),
                "{origin}"
            );
        }
        assert_eq!(b.check(&headers(&[("host", "localhost:3001")])), Ok(()));
        assert_eq!(b.check(&headers(&[("host", "[::1]:3001")])), Ok(()));
        assert_eq!(b.check(&HeaderMap::new()), Ok(()));
    }

    #[test]
    fn foreign_origins_and_rebound_hosts_are_refused() {
        let b = Browsers::new(IpAddr::V4(Ipv4Addr::LOCALHOST), &[]);
        for origin in [
            "https://evil.example",
            "null",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example:80",
            "http://10.0.0.1",
        ] {
            assert!(
                matches!(
                    b.check(&headers(&[("host", "127.0.0.1:3001"), ("origin", origin)])),
                    Err(Refused::Origin(_))
                ),
                "{origin}"
            );
        }
        for host in ["evil.example:3001", "10.0.0.1:3001", "127.0.0.1:x", ""] {
            assert!(
                matches!(b.check(&headers(&[("host", host)])), Err(Refused::Host(_))),
                "{host}"
            );
        }
    }

    #[test]
    fn allowed_origins_and_a_wildcard_bind_open_up() {
        let b = Browsers::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            &["https://App.Example/".into()],
        );
        assert_eq!(
            b.check(&headers(&[
                ("host", "192.168.1.20:3001"),
                ("origin", "https://app.example")
            ])),
            Ok(())
        );
        assert!(
            b.check(&headers(&[("host", "my-laptop.lan:3001")]))
                .is_err()
        );
        let any = Browsers::new(IpAddr::V4(Ipv4Addr::LOCALHOST), &["*".into()]);
        assert_eq!(
            any.check(&headers(&[("origin", "https://evil.example")])),
            Ok(())
        );
    }
}
