//! TLS client configuration for `wss://`: rustls with the ring provider, the platform's roots plus
//! the app's extra CA certificates.

use std::sync::Arc;

use rustls::crypto::{CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms};
use rustls::sign::SigningKey;
use rustls::{ClientConfig, RootCertStore, SignatureScheme};
use webpki::ring as algs;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::types::{ClientError, ErrorCode};

/// Parses PEM text into certificates; no certificate or a broken PEM block is `InvalidParameter`.
pub(crate) fn parse_extra_roots(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ClientError> {
    let invalid = |why: String| ClientError::new(ErrorCode::InvalidParameter, format!("extra CA PEM: {why}"));
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

/// Builds the client config: platform roots (load errors are logged) plus `extra` roots.
pub(crate) fn client_config(extra: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, ClientError> {
    let failed = |why: String| ClientError::new(ErrorCode::ConnectionFailed, format!("TLS setup: {why}"));
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for err in &native.errors {
        log::warn!("loading platform root certificates: {err}");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    log::debug!("{added} platform root certificates ({ignored} ignored)");
    for cert in extra {
        roots.add(cert.clone()).map_err(|e| failed(format!("extra CA certificate rejected: {e}")))?;
    }
    if roots.is_empty() {
        return Err(failed("no trusted root certificates (platform store empty and no extra CA given)".into()));
    }
    let provider = Arc::new(crypto_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// rustls's ring provider without what only a TLS client that presents a certificate would use: its
/// key provider loads private keys (RSA, ECDSA and Ed25519 signing code, ~100 KB of the library) and
/// this client never has one. Cipher suites and key exchange groups are ring's defaults; signatures
/// are verified with [`VERIFICATION_ALGORITHMS`]. `default_provider()` itself is never called: it
/// names the key provider, and that alone links the signing code.
fn crypto_provider() -> CryptoProvider {
    CryptoProvider {
        cipher_suites: rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec(),
        kx_groups: rustls::crypto::ring::DEFAULT_KX_GROUPS.to_vec(),
        signature_verification_algorithms: VERIFICATION_ALGORITHMS,
        secure_random: &SystemRandom,
        key_provider: &NoPrivateKeys,
    }
}

/// The signature algorithms rustls's ring provider verifies (its table is not public): every one
/// webpki implements with ring, and for each TLS signature scheme the algorithms that may serve it.
static VERIFICATION_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        algs::ECDSA_P256_SHA256,
        algs::ECDSA_P256_SHA384,
        algs::ECDSA_P384_SHA256,
        algs::ECDSA_P384_SHA384,
        algs::ED25519,
        algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        algs::RSA_PKCS1_2048_8192_SHA256,
        algs::RSA_PKCS1_2048_8192_SHA384,
        algs::RSA_PKCS1_2048_8192_SHA512,
        algs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        algs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        algs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        // TLS 1.2 does not tie an ECDSA scheme to a curve (TLS 1.3 does).
        (SignatureScheme::ECDSA_NISTP384_SHA384, &[algs::ECDSA_P384_SHA384, algs::ECDSA_P256_SHA384]),
        (SignatureScheme::ECDSA_NISTP256_SHA256, &[algs::ECDSA_P256_SHA256, algs::ECDSA_P384_SHA256]),
        (SignatureScheme::ED25519, &[algs::ED25519]),
        (SignatureScheme::RSA_PSS_SHA512, &[algs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY]),
        (SignatureScheme::RSA_PSS_SHA384, &[algs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY]),
        (SignatureScheme::RSA_PSS_SHA256, &[algs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY]),
        (SignatureScheme::RSA_PKCS1_SHA512, &[algs::RSA_PKCS1_2048_8192_SHA512]),
        (SignatureScheme::RSA_PKCS1_SHA384, &[algs::RSA_PKCS1_2048_8192_SHA384]),
        (SignatureScheme::RSA_PKCS1_SHA256, &[algs::RSA_PKCS1_2048_8192_SHA256]),
    ],
};

/// The operating system's random numbers, through ring (as rustls's own ring provider does).
#[derive(Debug)]
struct SystemRandom;

impl SecureRandom for SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), buf).map_err(|_| GetRandomFailed)
    }
}

/// Refuses every private key: this client authenticates with its token, never with a certificate.
#[derive(Debug)]
struct NoPrivateKeys;

impl KeyProvider for NoPrivateKeys {
    fn load_private_key(&self, _key: PrivateKeyDer<'static>) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General("this client presents no certificate".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST_CA: &[u8] = include_bytes!("../../tests/client_support/tls/ca.pem");

    #[test]
    fn accepts_a_ca_certificate_and_adds_it_to_the_roots() {
        let certs = parse_extra_roots(TEST_CA).unwrap();
        assert_eq!(certs.len(), 1);
        assert!(client_config(&certs).is_ok());
    }

    #[test]
    fn verifies_what_rustls_ring_provider_verifies() {
        let ring = rustls::crypto::ring::default_provider().signature_verification_algorithms;
        assert_eq!(format!("{VERIFICATION_ALGORITHMS:?}"), format!("{ring:?}"));
        assert_eq!(VERIFICATION_ALGORITHMS.supported_schemes(), ring.supported_schemes());
        let provider = crypto_provider();
        let defaults = rustls::crypto::ring::default_provider();
        assert_eq!(format!("{:?}", provider.cipher_suites), format!("{:?}", defaults.cipher_suites));
        assert_eq!(format!("{:?}", provider.kx_groups), format!("{:?}", defaults.kx_groups));
        assert!(provider.key_provider.load_private_key(PrivateKeyDer::Pkcs8(vec![0x30, 0x00].into())).is_err());
        let mut random = [0u8; 32];
        provider.secure_random.fill(&mut random).unwrap();
        assert_ne!(random, [0u8; 32]);
    }

    #[test]
    fn rejects_pem_without_certificates() {
        assert_eq!(parse_extra_roots(b"").unwrap_err().code, ErrorCode::InvalidParameter);
        assert_eq!(parse_extra_roots(b"not a pem at all").unwrap_err().code, ErrorCode::InvalidParameter);
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(parse_extra_roots(broken).unwrap_err().code, ErrorCode::InvalidParameter);
    }
}
