//! Provider settings, the API key and the base-URL rule.
//!
//! [`ProviderSettings`] is everything about a provider except its key; it is
//! safe to serialize anywhere. [`Secret`] holds the key: it has no serde
//! implementation and prints as `***`, so it cannot reach an export, a log
//! line or a protocol message by accident. [`ProviderConfig`] (settings +
//! key, validated) is what the request builders take; [`StoredProviderConfig`]
//! is the one serializable form that carries the key, for the background's
//! local storage only. See the module docs of [`crate::provider`] for the
//! rule.

use serde::{Deserialize, Serialize};

/// Longest provider id, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest label, in characters.
pub const MAX_LABEL_CHARS: usize = 80;
/// Longest base URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// Longest model id, in bytes.
pub const MAX_MODEL_LEN: usize = 256;
/// Longest API key, in bytes.
pub const MAX_KEY_LEN: usize = 4096;
/// Largest `max_tokens` a configuration may ask for.
pub const MAX_MAX_TOKENS: u32 = 1_000_000;
/// The `max_tokens` of a new configuration.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;

/// Which kind of provider answers.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    /// Any server speaking OpenAI's chat completions (OpenAI, Ollama, LM
    /// Studio, llama.cpp server, vLLM, OpenRouter, ...).
    #[serde(rename = "openai_compatible")]
    OpenAiCompatible,
    /// Anthropic's Messages API.
    #[serde(rename = "anthropic")]
    Anthropic,
    /// The browser's built-in model (no HTTP; handled by the shell).
    #[serde(rename = "chrome_built_in")]
    ChromeBuiltIn,
    /// Paperclip's offline answers ([`crate::offline`]; no HTTP).
    #[serde(rename = "offline")]
    Offline,
}

impl ProviderKind {
    /// Whether requests to this provider go over HTTP (and so have a base
    /// URL, a model and perhaps a key).
    pub fn is_http(self) -> bool {
        matches!(self, Self::OpenAiCompatible | Self::Anthropic)
    }

    /// Whether this provider cannot work without an API key.
    pub fn requires_key(self) -> bool {
        self == Self::Anthropic
    }

    /// The wire name (as serialized).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpenAiCompatible => "openai_compatible",
            Self::Anthropic => "anthropic",
            Self::ChromeBuiltIn => "chrome_built_in",
            Self::Offline => "offline",
        }
    }
}

/// An API key. `Debug` and `Display` print `***`; there is deliberately no
/// `Serialize`/`Deserialize`, so a struct holding a `Secret` cannot derive
/// serde without saying how (only [`StoredProviderConfig`] does). The key
/// text is readable only inside this crate (the request builders put it in
/// the auth header; nothing else reads it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Checks a key: 1..=[`MAX_KEY_LEN`] bytes of printable ASCII without
    /// spaces (a key goes into an HTTP header). Surrounding whitespace, as
    /// pasted, is trimmed.
    pub fn new(key: &str) -> Result<Self, ConfigError> {
        let key = key.trim();
        if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidKey);
        }
        Ok(Self(key.to_owned()))
    }

    /// The key text: only for the auth header and for redacting echoes.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Everything about a provider except its key. Safe to serialize anywhere:
/// exports, the protocol to the options page, telemetry.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Stable id (printable ASCII, no spaces, 1..=[`MAX_ID_LEN`] bytes).
    pub id: String,
    /// Which dialect it speaks.
    pub kind: ProviderKind,
    /// Name shown to the user (1..=[`MAX_LABEL_CHARS`] characters).
    pub label: String,
    /// `http(s)://host[:port][/path]`, normalised by [`Self::validate`]
    /// (no trailing slash); empty for providers that are not HTTP.
    pub base_url: String,
    /// Model id sent with each request (empty for providers that are not HTTP).
    pub model: String,
    /// Default answer length limit, in tokens.
    pub max_tokens: u32,
}

impl ProviderSettings {
    /// Checks and normalises the settings (trimmed label and model, base URL
    /// as described in [`normalize_base_url`]), or says what is wrong.
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        check_id(&self.id)?;
        self.label = self.label.trim().to_owned();
        let label_chars = self.label.chars().count();
        if label_chars == 0
            || label_chars > MAX_LABEL_CHARS
            || self.label.chars().any(char::is_control)
        {
            return Err(ConfigError::InvalidLabel);
        }
        if !(1..=MAX_MAX_TOKENS).contains(&self.max_tokens) {
            return Err(ConfigError::MaxTokensOutOfRange {
                max: MAX_MAX_TOKENS,
            });
        }
        self.model = self.model.trim().to_owned();
        if self.kind.is_http() {
            self.base_url = normalize_base_url(&self.base_url, self.kind)?;
            check_model(&self.model)?;
        } else if self.base_url.len() > MAX_URL_LEN || self.model.len() > MAX_MODEL_LEN {
            return Err(ConfigError::UnusedFieldTooLong);
        }
        Ok(self)
    }

    /// The URL the API's paths hang from: the base URL when one of its path
    /// segments already names an API version (`/v1`, `/v1beta`, ...; users
    /// of Ollama, LM Studio and OpenRouter type `.../v1`), else the base URL
    /// plus `/v1`.
    ///
    /// ```
    /// # use paperclip_core::provider::{ProviderKind, ProviderSettings};
    /// let mut s = ProviderSettings::new("p", ProviderKind::OpenAiCompatible, "http://localhost:11434", "llama3.2");
    /// assert_eq!(s.api_root(), "http://localhost:11434/v1");
    /// s.base_url = "https://openrouter.ai/api/v1".into();
    /// assert_eq!(s.api_root(), "https://openrouter.ai/api/v1");
    /// ```
    pub fn api_root(&self) -> String {
        if path_of(&self.base_url).split('/').any(is_version_segment) {
            self.base_url.clone()
        } else {
            format!("{}/v1", self.base_url)
        }
    }

    /// Whether the server is on this machine or the local network
    /// (`localhost`, loopback, private IPv4 ranges, `*.local`): such models
    /// cost nothing.
    pub fn is_local(&self) -> bool {
        is_local_host(host_of(&self.base_url))
    }

    /// Whether the server is on this machine (`localhost`, `127.0.0.0/8`,
    /// `[::1]`): the only place a key may travel over plain `http`.
    pub fn is_loopback(&self) -> bool {
        crate::net::is_loopback_host(host_of(&self.base_url))
    }

    /// The host of the base URL (lowercase; `[...]` for IPv6).
    pub(crate) fn host(&self) -> &str {
        host_of(&self.base_url)
    }

    /// Settings with the given id, kind, base URL and model, the kind's name
    /// as label and [`DEFAULT_MAX_TOKENS`] (not yet validated).
    pub fn new(id: &str, kind: ProviderKind, base_url: &str, model: &str) -> Self {
        Self {
            id: id.to_owned(),
            kind,
            label: kind.as_str().to_owned(),
            base_url: base_url.to_owned(),
            model: model.to_owned(),
            max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// A validated provider: settings plus the key. Not serializable (use
/// [`Self::to_stored`] for local storage and [`Self::public`] for anything
/// else); `Debug` prints the key as `***`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    settings: ProviderSettings,
    api_key: Option<Secret>,
}

impl ProviderConfig {
    /// Validates `settings` and the key. An empty (or all-space) key means
    /// none; a key given to a provider that is not HTTP is dropped (never
    /// store a key that is not needed). Anthropic requires a key, and a key
    /// never travels over plain `http` to a host other than this machine
    /// (anyone on the network path could read it).
    pub fn new(settings: ProviderSettings, api_key: Option<&str>) -> Result<Self, ConfigError> {
        let settings = settings.validate()?;
        let key = match api_key.map(str::trim) {
            Some(k) if !k.is_empty() && settings.kind.is_http() => Some(Secret::new(k)?),
            _ => None,
        };
        Self::checked(settings, key)
    }

    /// Like [`Self::new`] with an already-made [`Secret`].
    pub fn with_secret(
        settings: ProviderSettings,
        api_key: Option<Secret>,
    ) -> Result<Self, ConfigError> {
        let settings = settings.validate()?;
        let key = api_key.filter(|_| settings.kind.is_http());
        Self::checked(settings, key)
    }

    fn checked(settings: ProviderSettings, api_key: Option<Secret>) -> Result<Self, ConfigError> {
        if settings.kind.requires_key() && api_key.is_none() {
            return Err(ConfigError::KeyRequired {
                kind: settings.kind,
            });
        }
        if api_key.is_some() && settings.base_url.starts_with("http://") && !settings.is_loopback()
        {
            return Err(ConfigError::KeyOverPlainHttp);
        }
        Ok(Self { settings, api_key })
    }

    /// The settings (everything but the key).
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }

    /// The key, if any (prints as `***`).
    pub fn api_key(&self) -> Option<&Secret> {
        self.api_key.as_ref()
    }

    /// Whether a key is set.
    pub fn has_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// The form for anything but local storage: settings and whether a key
    /// is set.
    pub fn public(&self) -> PublicProviderConfig {
        PublicProviderConfig {
            settings: self.settings.clone(),
            has_key: self.has_key(),
            problem: None,
        }
    }

    /// The form the background writes to local storage (with the key).
    pub fn to_stored(&self) -> StoredProviderConfig {
        StoredProviderConfig {
            settings: self.settings.clone(),
            api_key: self.api_key.clone(),
        }
    }
}

/// A provider as shown to the extension's pages, exported or reported:
/// settings and whether a key is set, never the key.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PublicProviderConfig {
    /// The settings.
    pub settings: ProviderSettings,
    /// Whether a key is stored.
    pub has_key: bool,
    /// Why a stored provider cannot be used (it fails validation, e.g. a
    /// key kept for a plain-http address that is no longer allowed); such a
    /// provider is shown with this and skipped by the answer chain.
    #[serde(default)]
    pub problem: Option<String>,
}

/// The one serializable form that carries the key: what the background
/// writes to the extension's local storage, and nothing else. Plain fields
/// (no flatten, no skipped fields), so JSON and postcard both work. Its
/// `Debug` still prints the key as `***`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct StoredProviderConfig {
    /// The settings.
    pub settings: ProviderSettings,
    /// The key.
    #[serde(with = "stored_key")]
    pub api_key: Option<Secret>,
}

impl StoredProviderConfig {
    /// Validates a stored record back into a [`ProviderConfig`] (stored data
    /// may be old or edited by hand).
    pub fn into_config(self) -> Result<ProviderConfig, ConfigError> {
        ProviderConfig::with_secret(self.settings, self.api_key)
    }

    /// As the pages see it: valid, or with the reason it is not used.
    pub fn public(&self) -> PublicProviderConfig {
        match self.clone().into_config() {
            Ok(c) => c.public(),
            Err(e) => PublicProviderConfig {
                settings: self.settings.clone(),
                has_key: self.api_key.is_some(),
                problem: Some(e.to_string()),
            },
        }
    }
}

/// Serde for the key inside [`StoredProviderConfig`] only.
mod stored_key {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Secret;

    pub fn serialize<S: Serializer>(key: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        key.as_ref().map(Secret::expose).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        let key = Option::<String>::deserialize(d)?;
        key.map(|k| Secret::new(&k).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// What is wrong with provider settings or a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The id is empty, too long or has spaces or non-ASCII characters.
    #[error("the provider id must be 1 to {MAX_ID_LEN} printable ASCII characters without spaces")]
    InvalidId,
    /// The label is empty, too long or has control characters.
    #[error("the name must be 1 to {MAX_LABEL_CHARS} characters")]
    InvalidLabel,
    /// The base URL is unusable.
    #[error("base url: {0}")]
    BaseUrl(#[from] UrlError),
    /// The model id is empty, too long or has spaces or control characters.
    #[error("the model must be 1 to {MAX_MODEL_LEN} characters without spaces")]
    InvalidModel,
    /// `max_tokens` is 0 or too large.
    #[error("max tokens must be between 1 and {max}")]
    MaxTokensOutOfRange {
        /// The largest allowed value.
        max: u32,
    },
    /// The key has spaces, control or non-ASCII characters, or is too long.
    #[error(
        "the api key must be printable ASCII without spaces, at most {MAX_KEY_LEN} characters"
    )]
    InvalidKey,
    /// This provider needs a key.
    #[error("{} needs an api key", kind.as_str())]
    KeyRequired {
        /// The provider kind.
        kind: ProviderKind,
    },
    /// A key would travel unencrypted to another machine.
    #[error(
        "an api key is only sent over https, or over plain http to this machine (localhost, 127.0.0.1, [::1])"
    )]
    KeyOverPlainHttp,
    /// A field a non-HTTP provider does not use is absurdly long.
    #[error("the base url or model is too long")]
    UnusedFieldTooLong,
}

impl ConfigError {
    /// The settings field the error is about (`"id"`, `"label"`,
    /// `"base_url"`, `"model"`, `"max_tokens"` or `"api_key"`), for forms.
    pub fn field(&self) -> &'static str {
        match self {
            Self::InvalidId => "id",
            Self::InvalidLabel => "label",
            Self::BaseUrl(_) | Self::UnusedFieldTooLong => "base_url",
            Self::InvalidModel => "model",
            Self::MaxTokensOutOfRange { .. } => "max_tokens",
            Self::InvalidKey | Self::KeyRequired { .. } | Self::KeyOverPlainHttp => "api_key",
        }
    }
}

/// What is wrong with a base URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Nothing was given.
    #[error("enter the server's address, e.g. http://localhost:11434")]
    Empty,
    /// Longer than [`MAX_URL_LEN`].
    #[error("longer than {MAX_URL_LEN} characters")]
    TooLong,
    /// Not `http://` or `https://`.
    #[error("must start with http:// or https://")]
    Scheme,
    /// `user:password@` in the URL.
    #[error("must not contain a user name or password; put the key in the api key field")]
    Credentials,
    /// A `?query`.
    #[error("must not contain a query (?...)")]
    Query,
    /// A `#fragment`.
    #[error("must not contain a fragment (#...)")]
    Fragment,
    /// The host is missing or malformed (non-ASCII hosts must be given in
    /// punycode).
    #[error("the host name is missing or invalid")]
    Host,
    /// The port is not 1..=65535.
    #[error("the port must be a number from 1 to 65535")]
    Port,
    /// The path has a space, a non-ASCII or reserved character, a bad
    /// percent escape or a `.`/`..` segment.
    #[error(
        "the path has characters that are not allowed (spaces, non-ASCII, '.' or '..' segments)"
    )]
    Path,
}

/// Normalises a base URL for `kind`: trims it; lowercases scheme and host;
/// requires `http`/`https` and a host; rejects credentials, queries,
/// fragments, non-ASCII and `.`/`..` segments; removes trailing slashes; and
/// accepts a pasted endpoint by removing a final `/chat/completions`
/// (OpenAI-compatible) or `/messages` (Anthropic).
///
/// ```
/// # use paperclip_core::provider::{normalize_base_url, ProviderKind};
/// let url = normalize_base_url(" HTTP://LocalHost:11434/v1/chat/completions/ ", ProviderKind::OpenAiCompatible);
/// assert_eq!(url.unwrap(), "http://localhost:11434/v1");
/// ```
pub fn normalize_base_url(input: &str, kind: ProviderKind) -> Result<String, UrlError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    if input.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    let (scheme, rest) = input.split_once("://").ok_or(UrlError::Scheme)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(UrlError::Scheme);
    }
    if rest.contains('#') {
        return Err(UrlError::Fragment);
    }
    if rest.contains('?') {
        return Err(UrlError::Query);
    }
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let authority = normalize_authority(authority)?;
    let path = normalize_path(path, kind)?;
    Ok(format!("{scheme}://{authority}{path}"))
}

fn normalize_authority(authority: &str) -> Result<String, UrlError> {
    if authority.contains('@') {
        return Err(UrlError::Credentials);
    }
    let (host, port) = split_host_port(authority)?;
    let host = host.to_ascii_lowercase();
    if !valid_host(&host) {
        return Err(UrlError::Host);
    }
    match port {
        None => Ok(host),
        Some(p) if valid_port(p) => Ok(format!("{host}:{p}")),
        Some(_) => Err(UrlError::Port),
    }
}

fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), UrlError> {
    if authority.starts_with('[') {
        let end = authority.find(']').ok_or(UrlError::Host)?;
        let (host, after) = authority.split_at(end + 1);
        return match after {
            "" => Ok((host, None)),
            _ => after
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or(UrlError::Host),
        };
    }
    Ok(match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    })
}

fn valid_port(port: &str) -> bool {
    port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
}

fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.contains(':')
            && inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn normalize_path(path: &str, kind: ProviderKind) -> Result<String, UrlError> {
    let mut path = path.trim_end_matches('/');
    if !path.bytes().all(path_byte_ok) || !percent_escapes_ok(path) {
        return Err(UrlError::Path);
    }
    if path.split('/').skip(1).any(|s| s == "." || s == "..") {
        return Err(UrlError::Path);
    }
    let endpoint = match kind {
        ProviderKind::Anthropic => "/messages",
        _ => "/chat/completions",
    };
    if let Some(stripped) = path.strip_suffix(endpoint) {
        path = stripped.trim_end_matches('/');
    }
    Ok(path.to_owned())
}

/// RFC 3986 `pchar` plus `/`.
fn path_byte_ok(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/%".contains(&b)
}

fn percent_escapes_ok(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'%')
        .all(|(i, _)| {
            bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        })
}

fn check_id(id: &str) -> Result<(), ConfigError> {
    if id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::InvalidId);
    }
    Ok(())
}

fn check_model(model: &str) -> Result<(), ConfigError> {
    if model.is_empty()
        || model.len() > MAX_MODEL_LEN
        || model.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(ConfigError::InvalidModel);
    }
    Ok(())
}

/// `v` + a digit + letters/digits: `v1`, `v2`, `v1beta`.
fn is_version_segment(segment: &str) -> bool {
    let b = segment.as_bytes();
    b.len() >= 2 && b[0] == b'v' && b[1].is_ascii_digit() && b.iter().all(u8::is_ascii_alphanumeric)
}

/// The host of a normalised URL (`[...]` kept for IPv6).
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    split_host_port(authority).map_or("", |(h, _)| h)
}

/// The path of a normalised URL (`""` or `/...`).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or("", |(_, r)| r);
    rest.find('/').map_or("", |i| &rest[i..])
}

/// This machine, or the local network (`*.local`, private IPv4 ranges).
fn is_local_host(host: &str) -> bool {
    if crate::net::is_loopback_host(host) || host.ends_with(".local") {
        return true;
    }
    let octets: Vec<u8> = host.split('.').filter_map(|p| p.parse().ok()).collect();
    if octets.len() != 4 || host.split('.').count() != 4 {
        return false;
    }
    matches!(octets[..], [10, ..] | [192, 168, ..] | [172, 16..=31, ..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(input: &str) -> Result<String, UrlError> {
        normalize_base_url(input, ProviderKind::OpenAiCompatible)
    }

    #[test]
    fn base_urls_are_normalised() {
        let cases = [
            ("https://api.openai.com", "https://api.openai.com"),
            ("https://api.openai.com/", "https://api.openai.com"),
            ("https://api.openai.com/v1///", "https://api.openai.com/v1"),
            ("HTTPS://API.OpenAI.com/V1", "https://api.openai.com/V1"),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://[::1]:11434/v1/", "http://[::1]:11434/v1"),
            (
                "http://localhost:1234/v1/chat/completions",
                "http://localhost:1234/v1",
            ),
            (
                "https://openrouter.ai/api/v1",
                "https://openrouter.ai/api/v1",
            ),
            ("https://gw.example/a%20b", "https://gw.example/a%20b"),
        ];
        for (input, want) in cases {
            assert_eq!(url(input).as_deref(), Ok(want), "{input}");
        }
        let anthropic = normalize_base_url(
            "https://api.anthropic.com/v1/messages",
            ProviderKind::Anthropic,
        );
        assert_eq!(anthropic.as_deref(), Ok("https://api.anthropic.com/v1"));
    }

    #[test]
    fn bad_base_urls_are_refused_with_the_reason() {
        let cases = [
            ("", UrlError::Empty),
            ("localhost:11434", UrlError::Scheme),
            ("ftp://example.org", UrlError::Scheme),
            ("javascript://x", UrlError::Scheme),
            ("https://user:pw@example.org", UrlError::Credentials),
            ("https://sk-123@example.org", UrlError::Credentials),
            ("https://example.org/v1#x", UrlError::Fragment),
            ("https://example.org/v1?key=1", UrlError::Query),
            ("https://", UrlError::Host),
            ("https://:8080", UrlError::Host),
            ("https://exa mple.org", UrlError::Host),
            ("https://bücher.de", UrlError::Host),
            ("https://a..b", UrlError::Host),
            ("https://[::1", UrlError::Host),
            ("https://example.org:0", UrlError::Port),
            ("https://example.org:65536", UrlError::Port),
            ("https://example.org:80a", UrlError::Port),
            ("https://example.org/a b", UrlError::Path),
            ("https://example.org/ü", UrlError::Path),
            ("https://example.org/a/../b", UrlError::Path),
            ("https://example.org/%zz", UrlError::Path),
        ];
        for (input, want) in cases {
            assert_eq!(url(input), Err(want), "{input}");
        }
        assert_eq!(
            url(&format!("https://e.org/{}", "a".repeat(MAX_URL_LEN))),
            Err(UrlError::TooLong)
        );
    }

    #[test]
    fn api_root_adds_v1_only_when_no_version_is_named() {
        let root = |base: &str| {
            ProviderSettings::new("p", ProviderKind::OpenAiCompatible, base, "m").api_root()
        };
        assert_eq!(root("https://api.openai.com"), "https://api.openai.com/v1");
        assert_eq!(
            root("http://localhost:11434/v1"),
            "http://localhost:11434/v1"
        );
        assert_eq!(
            root("https://api.groq.com/openai/v1"),
            "https://api.groq.com/openai/v1"
        );
        assert_eq!(
            root("https://generativelanguage.googleapis.com/v1beta/openai"),
            "https://generativelanguage.googleapis.com/v1beta/openai"
        );
        assert_eq!(
            root("https://gw.example/vendor"),
            "https://gw.example/vendor/v1"
        );
        assert_eq!(
            root("https://gw.example/video"),
            "https://gw.example/video/v1"
        );
    }

    #[test]
    fn local_hosts_are_recognised() {
        let local = |base: &str| {
            ProviderSettings::new("p", ProviderKind::OpenAiCompatible, base, "m").is_local()
        };
        for base in [
            "http://localhost:11434",
            "http://127.0.0.1:8080",
            "http://[::1]:1234",
            "http://192.168.1.20:11434",
            "http://10.0.0.2",
            "http://172.20.0.3",
            "http://gpu-box.local:8080",
        ] {
            assert!(local(base), "{base}");
        }
        for base in [
            "https://api.openai.com",
            "http://172.32.0.1",
            "http://8.8.8.8",
            "http://127.0.0.1.example.org",
        ] {
            assert!(!local(base), "{base}");
        }
    }

    fn settings(kind: ProviderKind, base: &str) -> ProviderSettings {
        ProviderSettings::new("p1", kind, base, "m")
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let ok = settings(ProviderKind::OpenAiCompatible, "http://localhost:11434/");
        assert_eq!(
            ok.clone().validate().unwrap().base_url,
            "http://localhost:11434"
        );
        let bad = [
            (
                ProviderSettings {
                    id: String::new(),
                    ..ok.clone()
                },
                "id",
            ),
            (
                ProviderSettings {
                    id: "a b".into(),
                    ..ok.clone()
                },
                "id",
            ),
            (
                ProviderSettings {
                    label: " ".into(),
                    ..ok.clone()
                },
                "label",
            ),
            (
                ProviderSettings {
                    label: "x".repeat(MAX_LABEL_CHARS + 1),
                    ..ok.clone()
                },
                "label",
            ),
            (
                ProviderSettings {
                    model: " ".into(),
                    ..ok.clone()
                },
                "model",
            ),
            (
                ProviderSettings {
                    model: "a b".into(),
                    ..ok.clone()
                },
                "model",
            ),
            (
                ProviderSettings {
                    max_tokens: 0,
                    ..ok.clone()
                },
                "max_tokens",
            ),
            (
                ProviderSettings {
                    max_tokens: MAX_MAX_TOKENS + 1,
                    ..ok.clone()
                },
                "max_tokens",
            ),
            (
                ProviderSettings {
                    base_url: "x".into(),
                    ..ok.clone()
                },
                "base_url",
            ),
        ];
        for (s, field) in bad {
            assert_eq!(s.clone().validate().unwrap_err().field(), field, "{s:?}");
        }
    }

    #[test]
    fn offline_needs_no_url_and_keeps_no_key() {
        let s = settings(ProviderKind::Offline, "");
        let c = ProviderConfig::new(s, Some("sk-unused")).unwrap();
        assert!(!c.has_key());
    }

    #[test]
    fn key_rules() {
        let anthropic = settings(ProviderKind::Anthropic, "https://api.anthropic.com");
        assert_eq!(
            ProviderConfig::new(anthropic.clone(), None).unwrap_err(),
            ConfigError::KeyRequired {
                kind: ProviderKind::Anthropic
            }
        );
        assert_eq!(
            ProviderConfig::new(anthropic.clone(), Some(" "))
                .unwrap_err()
                .field(),
            "api_key"
        );
        assert_eq!(
            ProviderConfig::new(anthropic.clone(), Some("a b")).unwrap_err(),
            ConfigError::InvalidKey
        );
        assert_eq!(
            ProviderConfig::new(anthropic.clone(), Some("k\n")).map(|c| c.has_key()),
            Ok(true)
        );
        assert_eq!(
            ProviderConfig::new(anthropic, Some("kéy")).unwrap_err(),
            ConfigError::InvalidKey
        );
        let remote_http = settings(ProviderKind::OpenAiCompatible, "http://llm.example.org");
        assert_eq!(
            ProviderConfig::new(remote_http.clone(), Some("k")).unwrap_err(),
            ConfigError::KeyOverPlainHttp
        );
        assert!(ProviderConfig::new(remote_http, None).is_ok());
        let lan = settings(ProviderKind::OpenAiCompatible, "http://192.168.0.5:8080");
        assert_eq!(
            ProviderConfig::new(lan.clone(), Some("k")).unwrap_err(),
            ConfigError::KeyOverPlainHttp,
            "the local network is not this machine"
        );
        assert!(ProviderConfig::new(lan, None).is_ok(), "no key: fine");
        for here in [
            "http://localhost:11434",
            "http://127.0.0.1:8080",
            "http://[::1]:1234",
        ] {
            let s = settings(ProviderKind::OpenAiCompatible, here);
            assert!(ProviderConfig::new(s, Some("k")).is_ok(), "{here}");
        }
    }

    #[test]
    fn a_stored_provider_that_no_longer_validates_is_shown_with_its_problem() {
        // Saved by an earlier version, which let a key go over http to the
        // local network.
        let stored: StoredProviderConfig = serde_json::from_value(serde_json::json!({
            "settings": {"id": "lan", "kind": "openai_compatible", "label": "Box",
                "base_url": "http://192.168.0.5:8080", "model": "m", "max_tokens": 256},
            "api_key": "k"
        }))
        .unwrap();
        let shown = stored.public();
        assert!(shown.has_key && shown.settings.label == "Box");
        assert_eq!(
            shown.problem.as_deref(),
            Some(ConfigError::KeyOverPlainHttp.to_string().as_str())
        );
        assert!(stored.into_config().is_err(), "not used to answer");
        let fine = ProviderConfig::new(
            settings(ProviderKind::OpenAiCompatible, "https://a.example"),
            None,
        )
        .unwrap()
        .to_stored();
        assert_eq!(fine.public().problem, None);
    }

    #[test]
    fn the_key_never_shows_in_debug_display_or_public_serde() {
        let s = settings(ProviderKind::OpenAiCompatible, "https://api.openai.com");
        let c = ProviderConfig::new(s, Some("sk-SECRET-123")).unwrap();
        let shown = [
            format!("{c:?}"),
            format!("{c:#?}"),
            format!("{:?}", c.to_stored()),
            format!("{}", c.api_key().unwrap()),
            serde_json::to_string(&c.public()).unwrap(),
            serde_json::to_string(c.settings()).unwrap(),
        ];
        for text in shown {
            assert!(!text.contains("SECRET"), "{text}");
        }
        assert!(serde_json::to_string(&c.public())
            .unwrap()
            .contains("\"has_key\":true"));
    }

    #[test]
    fn stored_form_round_trips_in_json_and_postcard() {
        let s = settings(ProviderKind::Anthropic, "https://api.anthropic.com");
        let c = ProviderConfig::new(s, Some("sk-ant-xyz")).unwrap();
        let json = serde_json::to_string(&c.to_stored()).unwrap();
        assert!(json.contains("\"api_key\":\"sk-ant-xyz\""));
        let back: StoredProviderConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.into_config().unwrap(), c);
        let bytes = postcard::to_allocvec(&c.to_stored()).unwrap();
        let back: StoredProviderConfig = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.into_config().unwrap(), c);
        let tampered = json.replace("sk-ant-xyz", "bad key");
        assert!(serde_json::from_str::<StoredProviderConfig>(&tampered).is_err());
    }
}
