//! TLS client configuration for `wss://`: rustls with the ring provider, the platform's roots plus
//! the app's extra CA certificates.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

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
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
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
    fn rejects_pem_without_certificates() {
        assert_eq!(parse_extra_roots(b"").unwrap_err().code, ErrorCode::InvalidParameter);
        assert_eq!(parse_extra_roots(b"not a pem at all").unwrap_err().code, ErrorCode::InvalidParameter);
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert_eq!(parse_extra_roots(broken).unwrap_err().code, ErrorCode::InvalidParameter);
    }
}
