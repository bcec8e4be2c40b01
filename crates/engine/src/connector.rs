//! Outgoing connections: what a CONNECT command asks for, and the
//! non-blocking connect that starts one. The worker registers the socket and
//! the connection takes it from there (TLS, the request, the response).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

use crate::wire::FLAG_BINARY;

/// A CONNECT command's flag: the connection is TLS (`wss:`).
pub const FLAG_TLS: u8 = FLAG_BINARY;

/// A CONNECT command, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectSpec {
    pub addr: SocketAddr,
    /// `localAddress`: the address to connect from.
    pub local: Option<IpAddr>,
    /// TLS: the client configuration's index (`Shared::client_tls`) and the server name (SNI).
    pub tls: Option<(u32, String)>,
    /// The request head, written once connected (and TLS is up).
    pub request: Vec<u8>,
    pub timeout: Option<Duration>,
}

/// `u8` length + text (empty: none), as JS writes addresses.
fn take_text<'a>(p: &mut &'a [u8]) -> Option<&'a str> {
    let (&len, rest) = p.split_first()?;
    let text = std::str::from_utf8(rest.get(..len as usize)?).ok()?;
    *p = &rest[len as usize..];
    Some(text)
}

/// Payload layout (lib/core/wire.js `encodeConnect`): `u8` length + the IP
/// address as text, `u16` port, `u8` length + the local IP address (empty for
/// none), `u32` TLS configuration index, `u16` length + server name, then the
/// request head. None if malformed.
pub fn decode_connect(flags: u8, timeout_ms: u32, payload: &[u8]) -> Option<ConnectSpec> {
    let mut p = payload;
    let ip: IpAddr = take_text(&mut p)?.parse().ok()?;
    let port = u16::from_le_bytes(p.get(..2)?.try_into().ok()?);
    p = &p[2..];
    let local = match take_text(&mut p)? {
        "" => None,
        text => Some(text.parse().ok()?),
    };
    let tls_index = u32::from_le_bytes(p.get(..4)?.try_into().ok()?);
    let name_len = u16::from_le_bytes(p.get(4..6)?.try_into().ok()?) as usize;
    let name = std::str::from_utf8(p.get(6..6 + name_len)?).ok()?.to_string();
    let request = p[6 + name_len..].to_vec();
    Some(ConnectSpec {
        addr: SocketAddr::new(ip, port),
        local,
        tls: (flags & FLAG_TLS != 0).then_some((tls_index, name)),
        request,
        timeout: (timeout_ms > 0).then(|| Duration::from_millis(timeout_ms.into())),
    })
}

/// Starts a non-blocking connect: the socket becomes writable when it is
/// done, and `connect_result` then says how it went.
pub fn start_connect(spec: &ConnectSpec) -> io::Result<TcpStream> {
    connect_to(spec.addr, spec.local)
}

/// A non-blocking connect to `addr` (from `local` if given).
pub fn connect_to(addr: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    socket.set_nodelay(true)?;
    if let Some(local) = local {
        socket.bind(&SocketAddr::new(local, 0).into())?;
    }
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(socket.into()))
}

/// After the socket became writable: Ok once connected, or the connect's error.
pub fn connect_result(stream: &TcpStream) -> io::Result<()> {
    if let Some(err) = stream.take_error()? {
        return Err(err);
    }
    stream.peer_addr().map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(ip: &str, port: u16, local: &str, tls: u32, name: &str, request: &[u8]) -> Vec<u8> {
        let mut out = vec![ip.len() as u8];
        out.extend_from_slice(ip.as_bytes());
        out.extend_from_slice(&port.to_le_bytes());
        out.push(local.len() as u8);
        out.extend_from_slice(local.as_bytes());
        out.extend_from_slice(&tls.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(request);
        out
    }

    #[test]
    fn decodes_connect_payloads() {
        let spec = decode_connect(0, 5000, &encode("127.0.0.1", 8080, "", 0, "", b"GET / HTTP/1.1\r\n\r\n"))
            .unwrap();
        assert_eq!(spec.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(spec.local, None);
        assert_eq!(spec.tls, None);
        assert_eq!(spec.request, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(spec.timeout, Some(Duration::from_millis(5000)));

        let spec =
            decode_connect(FLAG_TLS, 0, &encode("::1", 443, "127.0.0.2", 3, "example.org", b"x")).unwrap();
        assert_eq!(spec.addr, "[::1]:443".parse().unwrap());
        assert_eq!(spec.local, Some("127.0.0.2".parse().unwrap()));
        assert_eq!(spec.tls, Some((3, "example.org".to_string())));
        assert_eq!(spec.timeout, None);
    }

    #[test]
    fn refuses_malformed_payloads() {
        assert_eq!(decode_connect(0, 0, &[]), None);
        assert_eq!(decode_connect(0, 0, &encode("", 80, "", 0, "", b"")), None); // no address
        assert_eq!(decode_connect(0, 0, &encode("localhost", 80, "", 0, "", b"")), None); // not an IP
        assert_eq!(decode_connect(0, 0, &encode("1.2.3.4", 80, "x", 0, "", b"")), None);
        assert_eq!(decode_connect(0, 0, &encode("1.2.3.4", 80, "", 0, "", b"")[..12]), None);
    }

    #[test]
    fn connect_refused_is_reported() {
        // A port nothing listens on: bind one, note it, close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let spec = ConnectSpec {
            addr: SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), port),
            local: None,
            tls: None,
            request: vec![],
            timeout: None,
        };
        let stream = start_connect(&spec).unwrap();
        let mut poll = mio::Poll::new().unwrap();
        let mut stream = stream;
        poll.registry().register(&mut stream, mio::Token(0), mio::Interest::WRITABLE).unwrap();
        let mut events = mio::Events::with_capacity(4);
        poll.poll(&mut events, Some(Duration::from_secs(5))).unwrap();
        let err = connect_result(&stream).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
    }
}
