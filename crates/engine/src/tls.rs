//! TLS (rustls with ring): the server configuration from PEM (the `ssl`
//! option), the client configuration (`wss://`), and the transport a connection
//! reads and writes through. Plaintext in, records out; the connection above
//! does not know which it has, nor which end of the session it is.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::pki_types::{ServerName, UnixTime};
use rustls::server::{Acceptor, ClientHello, WebPkiClientVerifier};
use rustls::{
    CertificateError, CipherSuite, ClientConfig, ClientConnection, Connection, DigitallySignedStruct,
    RootCertStore, ServerConfig, SignatureScheme, SupportedCipherSuite,
};

/// Plaintext rustls may hold before the socket has taken it: past this, a write
/// reports WouldBlock, so backpressure keeps its meaning under TLS.
const PLAINTEXT_LIMIT: usize = 64 * 1024;

/// The server's TLS: one configuration per cipher-suite order, chosen for each
/// client from its ClientHello (`for_hello`), as Go's crypto/tls does. Every
/// suite offered is a strong one; the order only decides speed. AES-128-GCM
/// (SHA-256 handshake) costs least where both ends have AES in hardware:
/// clients list AES-256 first out of habit, and its SHA-384 handshake hash has
/// no hardware path on many CPUs (ring's SHA-512 runs in plain code on AMD:
/// ~10 % of a full handshake). A client that lists ChaCha20 first (no AES
/// hardware, typically a phone) gets ChaCha20.
#[derive(Debug)]
pub struct ServerTls {
    aes_first: Arc<ServerConfig>,
    chacha_first: Arc<ServerConfig>,
}

impl ServerTls {
    /// The configuration for a client: its preference between AES-GCM and
    /// ChaCha20 (the first of the two it lists), and ours where we lack AES hardware.
    fn for_hello(&self, hello: &ClientHello<'_>) -> Arc<ServerConfig> {
        let first = hello.cipher_suites().iter().find(|s| is_aes_gcm(**s) || is_chacha(**s));
        if has_aes_hardware() && first.is_some_and(|s| is_aes_gcm(*s)) {
            self.aes_first.clone()
        } else {
            self.chacha_first.clone()
        }
    }
}

fn is_aes_gcm(suite: CipherSuite) -> bool {
    is_aes_128_gcm(suite) || is_aes_256_gcm(suite)
}

fn is_aes_128_gcm(suite: CipherSuite) -> bool {
    use CipherSuite::*;
    matches!(
        suite,
        TLS13_AES_128_GCM_SHA256
            | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    )
}

fn is_aes_256_gcm(suite: CipherSuite) -> bool {
    use CipherSuite::*;
    matches!(
        suite,
        TLS13_AES_256_GCM_SHA384
            | TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
            | TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
    )
}

fn is_chacha(suite: CipherSuite) -> bool {
    use CipherSuite::*;
    matches!(
        suite,
        TLS13_CHACHA20_POLY1305_SHA256
            | TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

fn has_aes_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq");
    #[cfg(target_arch = "aarch64")]
    return std::arch::is_aarch64_feature_detected!("aes");
    #[allow(unreachable_code)]
    false
}

/// The suites in the order given by `rank` (lower first; ties keep ring's order).
fn provider_ranked(rank: fn(&SupportedCipherSuite) -> u8) -> rustls::crypto::CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.sort_by_key(rank);
    provider
}

/// AES-128-GCM, AES-256-GCM, ChaCha20 (sorting is stable: TLS 1.3's before 1.2's stay so).
fn aes_first(s: &SupportedCipherSuite) -> u8 {
    let suite = s.suite();
    if is_aes_128_gcm(suite) {
        0
    } else if is_aes_256_gcm(suite) {
        1
    } else {
        2
    }
}

/// ChaCha20, AES-128-GCM, AES-256-GCM.
fn chacha_first(s: &SupportedCipherSuite) -> u8 {
    let suite = s.suite();
    if is_chacha(suite) {
        0
    } else {
        1 + aes_first(s)
    }
}

/// Builds the server's TLS. `ca` turns on client certificates: required
/// unless `allow_unauthenticated`.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    ca_pem: Option<&[u8]>,
    allow_unauthenticated: bool,
) -> Result<Arc<ServerTls>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ssl.cert: {e}"))?;
    if certs.is_empty() {
        return Err("ssl.cert: no certificate found in the PEM data".into());
    }
    if key_pem.windows(9).any(|w| w == b"ENCRYPTED") {
        return Err("ssl.key: encrypted private keys are not supported; decrypt it first".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| format!("ssl.key: {e}"))?;
    let build = |rank| -> Result<Arc<ServerConfig>, String> {
        let provider = Arc::new(provider_ranked(rank));
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let builder = match ca_pem {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca) {
                    roots
                        .add(cert.map_err(|e| format!("ssl.ca: {e}"))?)
                        .map_err(|e| format!("ssl.ca: {e}"))?;
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
                let verifier =
                    if allow_unauthenticated { verifier.allow_unauthenticated() } else { verifier };
                builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("ssl.ca: {e}"))?)
            }
        };
        let certified =
            certified_key(&provider, certs.clone(), key.clone_key()).map_err(|e| format!("ssl.{e}"))?;
        let mut config = builder.with_cert_resolver(Arc::new(ServerCertificate(certified)));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.ignore_client_order = true;
        Ok(Arc::new(config))
    };
    Ok(Arc::new(ServerTls { aes_first: build(aes_first)?, chacha_first: build(chacha_first)? }))
}

/// A TCP socket, plain or with a TLS session on it.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsTransport>),
}

pub struct TlsTransport {
    tcp: TcpStream,
    state: TlsState,
}

enum TlsState {
    /// A server end waiting for the ClientHello, which decides its configuration.
    Accepting(Box<Acceptor>, Arc<ServerTls>),
    Session(Connection),
}

/// `sendmsg` rather than `writev`: the socket call skips the file layer writev
/// goes through (vfs_writev, fdget_pos, sock_write_iter: about 6 % of the
/// engine's time when broadcasting small messages), and MSG_NOSIGNAL makes a
/// reset peer an EPIPE error, never a SIGPIPE.
fn send_vectored(fd: std::os::fd::RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: IoSlice is ABI-compatible with iovec on Unix; the kernel only reads them.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len().min(libc::UIO_MAXIOV as usize) as _;
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

impl Transport {
    pub fn new(tcp: TcpStream, tls: Option<&Arc<ServerTls>>) -> Transport {
        match tls {
            None => Transport::Plain(tcp),
            Some(tls) => Transport::Tls(Box::new(TlsTransport {
                tcp,
                state: TlsState::Accepting(Box::default(), tls.clone()),
            })),
        }
    }

    /// The client end of a TLS session to `server_name` (its ClientHello is queued at once).
    pub fn client(tcp: TcpStream, cfg: &Arc<ClientConfig>, server_name: &str) -> io::Result<Transport> {
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let session = ClientConnection::new(cfg.clone(), name).map_err(io::Error::other)?;
        Ok(Transport::Tls(Box::new(TlsTransport {
            tcp,
            state: TlsState::Session(Connection::Client(session)),
        })))
    }

    /// Whether a TLS session is still in its handshake (plaintext cannot be written yet).
    pub fn is_handshaking(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => match &t.state {
                TlsState::Accepting(..) => true,
                TlsState::Session(session) => session.is_handshaking(),
            },
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &t.tcp,
        }
    }

    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            Transport::Tls(t) => &mut t.tcp,
        }
    }

    /// The TCP socket, when no TLS session sits on it.
    pub fn into_plain(self) -> Option<TcpStream> {
        match self {
            Transport::Plain(s) => Some(s),
            Transport::Tls(_) => None,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }

    /// The certificates the peer presented (DER, its own first), none on a plain socket.
    pub fn peer_certificates(&self) -> Vec<&[u8]> {
        let Transport::Tls(t) = self else { return Vec::new() };
        let chain = match &t.state {
            TlsState::Session(Connection::Client(c)) => c.peer_certificates(),
            TlsState::Session(Connection::Server(c)) => c.peer_certificates(),
            TlsState::Accepting(..) => None,
        };
        chain.map_or_else(Vec::new, |certs| certs.iter().map(|c| c.as_ref()).collect())
    }

    /// Reads plaintext. Ok(0) is EOF (TCP FIN or TLS close_notify).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(t) => t.read(buf),
        }
    }

    /// Plain TCP only: reads into `buf`'s spare capacity (at most `max` bytes) and extends it by the
    /// bytes read. The kernel fills the memory, so it need not be zeroed first.
    pub fn read_spare(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let Transport::Plain(s) = self else {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "TLS reads go through rustls"));
        };
        let spare = buf.spare_capacity_mut();
        let len = max.min(spare.len());
        let spare = &mut spare[..len];
        // SAFETY: recv writes at most `spare.len()` bytes into memory `buf` owns,
        // and `set_len` covers only the bytes it wrote.
        let n = unsafe { libc::recv(s.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        unsafe { buf.set_len(buf.len() + n as usize) };
        Ok(n as usize)
    }

    /// Takes plaintext to send; WouldBlock when the socket is backed up.
    pub fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => send_vectored(s.as_raw_fd(), bufs),
            Transport::Tls(t) => t.write_vectored(bufs),
        }
    }

    /// Writes TLS records rustls still holds (handshake, alerts, data).
    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(t) => t.flush_records(),
        }
    }

    pub fn has_pending(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            Transport::Tls(t) => t.wants_write(),
        }
    }

    pub fn shutdown_write(&mut self) {
        if let Transport::Tls(t) = self {
            if let TlsState::Session(session) = &mut t.state {
                session.send_close_notify();
            }
            let _ = t.flush_records();
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }
}

/// Writes the records `session` holds, until done or the socket is full.
fn flush(session: &mut Connection, tcp: &mut TcpStream) -> io::Result<()> {
    while session.wants_write() {
        session.write_tls(tcp)?;
    }
    Ok(())
}

impl TlsTransport {
    fn wants_write(&self) -> bool {
        matches!(&self.state, TlsState::Session(session) if session.wants_write())
    }

    fn flush_records(&mut self) -> io::Result<()> {
        match &mut self.state {
            TlsState::Session(session) => flush(session, &mut self.tcp),
            TlsState::Accepting(..) => Ok(()),
        }
    }

    /// A server end: reads until the ClientHello is whole, then starts the
    /// session with the configuration it asks for. Ok(false): EOF first.
    fn accept(&mut self) -> io::Result<bool> {
        let TlsState::Accepting(acceptor, tls) = &mut self.state else {
            return Ok(true);
        };
        let accepted = loop {
            if acceptor.read_tls(&mut self.tcp)? == 0 {
                return Ok(false);
            }
            match acceptor.accept() {
                Ok(None) => {}
                Ok(Some(accepted)) => break accepted,
                Err((err, mut alert)) => {
                    let _ = alert.write_all(&mut self.tcp);
                    return Err(io::Error::new(io::ErrorKind::InvalidData, err));
                }
            }
        };
        let config = tls.for_hello(&accepted.client_hello());
        match accepted.into_connection(config) {
            Ok(session) => self.state = TlsState::Session(Connection::Server(session)),
            Err((err, mut alert)) => {
                let _ = alert.write_all(&mut self.tcp);
                return Err(io::Error::new(io::ErrorKind::InvalidData, err));
            }
        }
        match self.flush_records() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(true),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.accept()? {
            return Ok(0);
        }
        let TlsState::Session(session) = &mut self.state else { unreachable!("accepted above") };
        loop {
            match session.reader().read(buf) {
                Ok(n) => return Ok(n), // 0: the peer sent close_notify
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if session.read_tls(&mut self.tcp)? == 0 {
                return Ok(0);
            }
            if let Err(e) = session.process_new_packets() {
                let _ = flush(session, &mut self.tcp); // the alert, if it fits
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
            // Handshake answers go out now; a full socket finishes them on the next writable turn.
            match flush(session, &mut self.tcp) {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {}
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.flush_records()?;
        let session = match &mut self.state {
            TlsState::Session(session) if !session.is_handshaking() => session,
            _ => return Err(io::ErrorKind::WouldBlock.into()),
        };
        let mut taken = 0;
        let mut writer = session.writer();
        for b in bufs {
            if taken >= PLAINTEXT_LIMIT {
                break;
            }
            let part = &b[..b.len().min(PLAINTEXT_LIMIT - taken)];
            let n = writer.write(part)?;
            taken += n;
            if n < part.len() {
                break;
            }
        }
        match self.flush_records() {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            _ => {}
        }
        if taken == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(taken)
    }
}

/// Builds a client configuration. `roots_pem`: the certificates to trust (JS
/// passes the `ca` option, or Node's own `tls.rootCertificates`, so the default
/// is what Node trusts). `verify: false` (rejectUnauthorized: false) accepts
/// any certificate. `cert_pem` + `key_pem`: a client certificate. `sni: false`
/// sends no server name (Node's `servername: ''`).
pub fn client_config(
    roots_pem: &[u8],
    cert_pem: Option<&[u8]>,
    key_pem: Option<&[u8]>,
    verify: bool,
    sni: bool,
) -> Result<Arc<ClientConfig>, String> {
    // Offered in the order Chrome offers them: AES-128-GCM first where this machine
    // has AES in hardware (a server that follows the client's order then runs the
    // cheaper SHA-256 handshake), else ChaCha20 first.
    let provider = Arc::new(provider_ranked(if has_aes_hardware() { aes_first } else { chacha_first }));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if verify {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(roots_pem) {
            // Node skips certificates it cannot use; so does a RootCertStore built leniently.
            let _ = roots.add(cert.map_err(|e| format!("ca: {e}"))?);
        }
        builder.with_root_certificates(roots)
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider.clone())))
    };
    let mut config = match (cert_pem, key_pem) {
        (Some(cert), Some(key)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("cert: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("key: {e}"))?;
            builder
                .with_client_cert_resolver(Arc::new(ClientCertificate(certified_key(&provider, certs, key)?)))
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.enable_sni = sni;
    Ok(Arc::new(config))
}

/// A certificate chain with its private key, checked to match here rather than
/// by rustls' `with_single_cert`/`with_client_auth_cert`, whose parser (webpki)
/// refuses X.509 v1 certificates, which OpenSSL (and so Node) takes: `openssl x509
/// -req` makes them when no extension is asked for.
fn certified_key(
    provider: &rustls::crypto::CryptoProvider,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<rustls::sign::CertifiedKey>, String> {
    let signing_key = provider.key_provider.load_private_key(key).map_err(|e| format!("key: {e}"))?;
    let matches = match (certs.first().and_then(|c| public_key_of(c)), signing_key.public_key()) {
        (Some(cert_key), Some(spki)) => {
            der_element(&spki, 0x30).and_then(|(inner, _)| public_key_of_spki(inner)) == Some(cert_key)
        }
        (Some(_), None) => true, // a key that cannot tell its public half: the handshake will
        (None, _) => false,
    };
    if !matches {
        return Err("cert: the private key does not match the certificate's public key".into());
    }
    Ok(Arc::new(rustls::sign::CertifiedKey::new(certs, signing_key)))
}

/// The server's certificate, whatever the client asks.
#[derive(Debug)]
struct ServerCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The client certificate, whatever the server asks.
#[derive(Debug)]
struct ClientCertificate(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ClientCertificate {
    fn resolve(
        &self,
        _issuers: &[&[u8]],
        _schemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// `rejectUnauthorized: false`: signatures are still checked (the session must
/// be with the key in the certificate), the certificate itself is not, nor its
/// version: an X.509 v1 certificate (which webpki refuses) is accepted, as Node does.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl AcceptAnyCertificate {
    /// Checks `signature` over `message` with the certificate's key, by the algorithms `scheme` maps to.
    fn verify(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let (alg_id, key) =
            public_key_of(cert).ok_or(rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let mapping = self.0.signature_verification_algorithms.mapping;
        let Some((_, algorithms)) = mapping.iter().find(|(scheme, _)| *scheme == dss.scheme) else {
            return Err(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        };
        let Some(alg) = algorithms.iter().find(|alg| alg.public_key_alg_id().as_ref() == alg_id) else {
            return Err(rustls::Error::InvalidCertificate(CertificateError::BadSignature));
        };
        alg.verify_signature(key, message, dss.signature())
            .map(|()| HandshakeSignatureValid::assertion())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadSignature))
    }
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // TLS 1.3 signs with these only (RFC 8446 4.2.3: no PKCS#1 v1.5, no SHA-1).
        use SignatureScheme::*;
        let tls13 = matches!(
            dss.scheme,
            ECDSA_NISTP256_SHA256
                | ECDSA_NISTP384_SHA384
                | ECDSA_NISTP521_SHA512
                | RSA_PSS_SHA256
                | RSA_PSS_SHA384
                | RSA_PSS_SHA512
                | ED25519
                | ED448
        );
        if !tls13 {
            return Err(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
        }
        self.verify(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// An X.509 certificate's public key, of any version: (the contents of its
/// AlgorithmIdentifier, the key's bits). None if the DER is not a certificate.
fn public_key_of(cert: &[u8]) -> Option<(&[u8], &[u8])> {
    let (certificate, _) = der_element(cert, 0x30)?;
    let (mut tbs, _) = der_element(certificate, 0x30)?;
    if tbs.first() == Some(&0xa0) {
        tbs = der_element(tbs, 0xa0)?.1; // [0] version: absent in v1
    }
    for _ in 0..5 {
        tbs = der_element(tbs, *tbs.first()?)?.1; // serialNumber, signature, issuer, validity, subject
    }
    public_key_of_spki(der_element(tbs, 0x30)?.0)
}

/// A SubjectPublicKeyInfo's contents as (algorithm, key bits).
fn public_key_of_spki(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (alg, rest) = der_element(spki, 0x30)?;
    let (bits, _) = der_element(rest, 0x03)?;
    let (&unused, key) = bits.split_first()?;
    (unused == 0).then_some((alg, key))
}

/// DER: the contents of the element at the start of `input` if its tag is `tag`, and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        first as usize
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |len, &b| (len << 8) | b as usize);
        rest = &rest[n..];
        len
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// Why a TLS session failed, as a number JS turns into Node's error code
/// (`wire::tls_failure`): the certificate's fault, or anything else (0).
pub fn failure_detail(err: &io::Error) -> u32 {
    use crate::wire::tls_failure::*;
    let Some(rustls_err) = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return OTHER;
    };
    match rustls_err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => UNKNOWN_ISSUER,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => WRONG_NAME,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => EXPIRED,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => NOT_YET_VALID,
            _ => BAD_CERTIFICATE,
        },
        rustls::Error::AlertReceived(_) => ALERT_RECEIVED,
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths_that_run_past_the_input_are_refused() {
        assert_eq!(der_element(&[0x30, 0x03, 1, 2, 3, 9], 0x30), Some((&[1, 2, 3][..], &[9][..])));
        assert_eq!(der_element(&[0x30, 0x81, 0x02, 1, 2], 0x30), Some((&[1, 2][..], &[][..])));
        assert_eq!(der_element(&[0x30, 0x04, 1, 2, 3], 0x30), None);
        assert_eq!(der_element(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], 0x30), None);
        assert_eq!(der_element(&[0x30, 0x80], 0x30), None); // indefinite length: not DER
        assert_eq!(der_element(&[0x31, 0x00], 0x30), None);
        assert_eq!(der_element(&[], 0x30), None);
    }

    #[test]
    fn truncated_certificates_have_no_public_key() {
        // A v1 certificate's TBS (no [0] version) cut at every length: never a panic, no key.
        let spki = [0x30, 0x0a, 0x30, 0x03, 0x06, 0x01, 0x2a, 0x03, 0x03, 0x00, 0xab, 0xcd];
        let mut tbs = vec![0x02, 0x01, 0x01, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00, 0x30, 0x00];
        tbs.extend_from_slice(&spki);
        let mut cert = vec![0x30, (tbs.len() + 2) as u8, 0x30, tbs.len() as u8];
        cert.extend_from_slice(&tbs);
        assert_eq!(public_key_of(&cert), Some((&[0x06, 0x01, 0x2a][..], &[0xab, 0xcd][..])));
        for len in 0..cert.len() {
            assert_eq!(public_key_of(&cert[..len]), None, "cut at {len}");
        }
    }
}
