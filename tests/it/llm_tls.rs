//! HTTPS to an OpenAI-compatible server whose certificate comes from a
//! private CA — what a machine behind a TLS-inspecting proxy sees. The CA
//! named by $SSL_CERT_FILE is trusted; a certificate from any other CA is a
//! clear error, not retried. The CA bundles are read once per process: the test
//! runs in a child process of its own, started with $SSL_CERT_FILE naming a
//! file it writes before any client exists.

use crate::common::{process, raw_http};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use econ_host::llm::openai::{OpenAiClient, OpenAiOptions};
use econ_host::llm::{ChatRequest, LlmClient, Message};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::io::AsyncWriteExt;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    ca_pem: String,
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

fn pki(name: &str) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        cert: leaf.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
    }
}

/// An HTTPS server answering every request with one chat completion;
/// counts TLS handshakes begun and requests answered.
struct TlsServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
}

async fn tls_server(pki: &Pki) -> TlsServer {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.cert.clone()], pki.key.clone_key())
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (c, r) = (Arc::clone(&connections), Arc::clone(&requests));
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let (acceptor, r) = (acceptor.clone(), Arc::clone(&r));
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if raw_http::read_request(&mut tls).await.is_none() {
                    return;
                }
                r.fetch_add(1, Ordering::SeqCst);
                let body = r#"{"choices":[{"message":{"content":"over tls"}}],"usage":{"prompt_tokens":3,"completion_tokens":2}}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsServer {
        addr,
        connections,
        requests,
    }
}

fn client(addr: SocketAddr) -> OpenAiClient {
    let mut o = OpenAiOptions::new(vec![format!("https://127.0.0.1:{}/v1", addr.port())], "m");
    o.backoff = Duration::from_millis(1);
    o.backoff_max = Duration::from_millis(5);
    o.timeout = Duration::from_secs(10);
    o.max_retries = 3;
    OpenAiClient::new(o).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![Message::new("user", "hello over TLS")],
        temperature: 0.7,
        repetition_penalty: 1.0,
        top_p: 0.9,
        max_tokens: 8,
        stop: Vec::new(),
        seed: Some(1),
    }
}

#[test]
fn in_its_own_process() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    process::run_in_child("llm_tls::", &[("SSL_CERT_FILE", bundle.as_os_str())]);
}

#[test]
#[ignore = "runs in its own process: llm_tls::in_its_own_process"]
fn a_private_ca_named_by_ssl_cert_file_is_trusted_and_others_fail_at_once() {
    let trusted = pki("econ-host test CA");
    let bundle = std::env::var_os("SSL_CERT_FILE").expect("started by in_its_own_process");
    std::fs::write(&bundle, &trusted.ca_pem).unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let server = tls_server(&trusted).await;
        let done = client(server.addr).chat(&request()).await.unwrap();
        assert_eq!(done.text, "over tls");
        assert_eq!(server.requests.load(Ordering::SeqCst), 1);

        // A certificate from a CA nobody named: one handshake, no retries,
        // and the error says what to do.
        let stranger = tls_server(&pki("unknown CA")).await;
        let err = format!(
            "{:#}",
            client(stranger.addr).chat(&request()).await.unwrap_err()
        );
        assert!(err.contains("not retried"), "{err}");
        assert!(err.contains("certificate is not trusted"), "{err}");
        assert!(err.contains("SSL_CERT_FILE"), "{err}");
        assert!(err.contains(&stranger.addr.port().to_string()), "{err}");
        assert_eq!(stranger.connections.load(Ordering::SeqCst), 1);
        assert_eq!(stranger.requests.load(Ordering::SeqCst), 0);
    });
}
