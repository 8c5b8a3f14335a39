//! What the two HTTP clients (the upstream's, `codex::client`, and the
//! login's, `auth::http`) share: the proxy they go through, and how their
//! errors are told. Both are reqwest with rustls and ring.

/// Route `builder`'s calls through `setting` (the `proxy` setting) when set,
/// `NO_PROXY` still honoured; else through `HTTPS_PROXY`/`ALL_PROXY`/
/// `HTTP_PROXY` minus `NO_PROXY` from the environment (reqwest's default).
/// `https://` targets go through a proxy by HTTP CONNECT; `socks5://`
/// proxies are spoken to in SOCKS5.
pub fn proxy(builder: reqwest::ClientBuilder, setting: Option<&str>) -> reqwest::ClientBuilder {
    match setting.map(reqwest::Proxy::all) {
        Some(Ok(proxy)) => builder.proxy(proxy.no_proxy(reqwest::NoProxy::from_env())),
        // Checked with the settings; one that still fails is left out.
        Some(Err(err)) => {
            tracing::warn!(error = %in_words(&err), "the proxy setting is unusable; using the environment's");
            builder
        }
        None => builder,
    }
}

/// An error and its causes, in words (`error sending request: … : Connection
/// refused (os error 111)`), never Rust `Debug` output.
pub fn in_words(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_told_in_words_with_their_causes_not_rust_debug_output() {
        #[derive(Debug, thiserror::Error)]
        #[error("error decoding response body")]
        struct Outer(#[source] std::io::Error);
        let text = in_words(&Outer(std::io::Error::from_raw_os_error(104)));
        assert!(text.starts_with("error decoding response body: "), "{text}");
        assert!(text.contains("(os error 104)"), "{text}");
        for debug in ["Some(", "None", "Os {", "kind:"] {
            assert!(!text.contains(debug), "{text}");
        }
    }
}
