//! Local model servers: where Ollama, LM Studio and llama.cpp's server
//! listen, how each lists its models, and what to tell the user when one
//! answers but refuses the extension (its origin is not allowed) or does
//! not answer at all. The background probes ([`Probe`]); this decides.
//!
//! ```
//! use paperclip_core::provider::local::{diagnose, Probe, Server, ServerState};
//! let found = diagnose(Server::Ollama, Probe::Refused { status: 403 }, "chrome-extension://abc");
//! assert!(matches!(found.state, ServerState::Refused { .. }));
//! assert!(found.message.contains("OLLAMA_ORIGINS=chrome-extension://abc"));
//! ```

use serde::{Deserialize, Serialize};

use super::{MAX_MODELS, MAX_MODEL_NAME_CHARS};

/// A kind of local model server, at its usual address.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Server {
    /// Ollama (`127.0.0.1:11434`).
    Ollama,
    /// LM Studio's server (`127.0.0.1:1234`).
    LmStudio,
    /// llama.cpp's `llama-server` (`127.0.0.1:8080`).
    LlamaCpp,
}

impl Server {
    /// Every server, in the order they are looked for.
    pub const ALL: [Server; 3] = [Server::Ollama, Server::LmStudio, Server::LlamaCpp];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Server::Ollama => "Ollama",
            Server::LmStudio => "LM Studio",
            Server::LlamaCpp => "llama.cpp",
        }
    }

    /// Where it listens by default (the provider's address).
    pub fn base_url(self) -> &'static str {
        match self {
            Server::Ollama => "http://127.0.0.1:11434",
            Server::LmStudio => "http://127.0.0.1:1234",
            Server::LlamaCpp => "http://127.0.0.1:8080",
        }
    }

    /// The host-permission pattern for its address.
    pub fn origin_pattern(self) -> String {
        format!("{}/*", self.base_url())
    }

    /// Where its models are listed: Ollama's own `/api/tags` (names as
    /// `ollama run` takes them), the OpenAI-compatible `/v1/models` for
    /// the others.
    pub fn models_url(self) -> String {
        match self {
            Server::Ollama => format!("{}/api/tags", self.base_url()),
            _ => format!("{}/v1/models", self.base_url()),
        }
    }

    /// How to let the extension (`origin`, e.g. `chrome-extension://ID`)
    /// talk to this server.
    pub fn how_to_allow(self, origin: &str) -> String {
        match self {
            Server::Ollama => format!(
                "Ollama only answers the origins it is told to allow. Set the environment variable OLLAMA_ORIGINS={origin} for Ollama (macOS: launchctl setenv OLLAMA_ORIGINS \"{origin}\"; Linux: add Environment=\"OLLAMA_ORIGINS={origin}\" to the ollama service with systemctl edit ollama.service; Windows: add it under your user's environment variables), then restart Ollama."
            ),
            Server::LmStudio => format!(
                "Turn on \"Enable CORS\" in LM Studio's server settings (Developer tab), or start it with lms server start --cors, so that it answers {origin}."
            ),
            Server::LlamaCpp => format!(
                "llama-server answers every origin unless something in front of it filters them: let {origin} through, and if you started it with --api-key, add it as a provider with that key."
            ),
        }
    }
}

/// What probing a server's model list saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Nothing answers at its address (connection refused, timed out).
    NotRunning,
    /// Something answers, but the browser refused the answer to the
    /// extension (no CORS permission for its origin).
    Blocked,
    /// It answered with an error status (403: the origin is not allowed).
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// It answered with a redirect to another address (never followed).
    Redirected,
    /// It answered 2xx with this body.
    Answered {
        /// The body (the caller caps it).
        body: String,
    },
}

/// How a server stands.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ServerState {
    /// It answers and lists these models.
    Running {
        /// Model names, in the server's order (bounded).
        models: Vec<String>,
    },
    /// Nothing answers.
    NotRunning,
    /// It answers but refuses the extension.
    Refused {
        /// What to do about it.
        advice: String,
    },
    /// It answered something that is not a model list.
    Unreadable,
}

/// One server as "Find local models" shows it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Which server.
    pub server: Server,
    /// Its address.
    pub base_url: String,
    /// How it stands.
    pub state: ServerState,
    /// One sentence for the user.
    pub message: String,
}

/// Model names in a server's list: Ollama's `{"models": [{"name"}]}` or
/// the OpenAI-compatible `{"data": [{"id"}]}`; at most [`MAX_MODELS`],
/// names over [`MAX_MODEL_NAME_CHARS`] or with control characters left
/// out.
pub fn parse_models(server: Server, body: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
    let (list, field) = match server {
        Server::Ollama => (&v["models"], "name"),
        _ => (&v["data"], "id"),
    };
    let list = list
        .as_array()
        .ok_or_else(|| "no model list in the answer".to_string())?;
    Ok(list
        .iter()
        .filter_map(|m| m[field].as_str())
        .filter(|n| {
            !n.is_empty()
                && n.chars().count() <= MAX_MODEL_NAME_CHARS
                && !n.chars().any(char::is_control)
        })
        .take(MAX_MODELS)
        .map(str::to_string)
        .collect())
}

/// What `probe` of `server` means for the user; `origin` is the
/// extension's own (for the advice).
pub fn diagnose(server: Server, probe: Probe, origin: &str) -> Found {
    let name = server.name();
    let at = server.base_url();
    let (state, message) = match probe {
        Probe::NotRunning => (
            ServerState::NotRunning,
            format!("{name}: nothing answers at {at}. Is it running?"),
        ),
        Probe::Blocked | Probe::Refused { status: 401 | 403 } => {
            let advice = server.how_to_allow(origin);
            let how = match probe {
                Probe::Refused { status } => format!("answered {status}"),
                _ => "did not allow this extension's origin (CORS)".into(),
            };
            let message =
                format!("{name} is running at {at} but refused this extension: it {how}. {advice}");
            (ServerState::Refused { advice }, message)
        }
        Probe::Redirected => (
            ServerState::Unreadable,
            format!(
                "{name} at {at} answered with a redirect to another address, which Paperclip does not follow."
            ),
        ),
        Probe::Refused { status } => (
            ServerState::Unreadable,
            format!("{name} at {at} answered {status} to the model list."),
        ),
        Probe::Answered { body } => match parse_models(server, &body) {
            Ok(models) if models.is_empty() => (
                ServerState::Running { models },
                format!("{name} is running at {at} but has no models yet."),
            ),
            Ok(models) => {
                let n = models.len();
                let plural = if n == 1 { "" } else { "s" };
                (
                    ServerState::Running { models },
                    format!("{name} is running at {at} with {n} model{plural}."),
                )
            }
            Err(why) => (
                ServerState::Unreadable,
                format!("{name} at {at} answered, but not with a model list ({why})."),
            ),
        },
    };
    Found {
        server,
        base_url: at.to_string(),
        state,
        message,
    }
}

/// The local server at `base_url`, if it is one of the known addresses
/// (`localhost` counts as `127.0.0.1`).
pub fn server_at(base_url: &str) -> Option<Server> {
    let normal = base_url
        .trim()
        .trim_end_matches('/')
        .trim_end_matches("/v1")
        .replace("://localhost:", "://127.0.0.1:");
    Server::ALL.into_iter().find(|s| s.base_url() == normal)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "moz-extension://1234-abcd";

    #[test]
    fn each_server_lists_its_models() {
        let ollama = r#"{"models":[{"name":"llama3.2:1b","model":"llama3.2:1b","size":1},{"name":"qwen2.5:7b"}]}"#;
        let f = diagnose(
            Server::Ollama,
            Probe::Answered {
                body: ollama.into(),
            },
            ORIGIN,
        );
        assert_eq!(
            f.state,
            ServerState::Running {
                models: vec!["llama3.2:1b".into(), "qwen2.5:7b".into()]
            }
        );
        assert_eq!(
            f.message,
            "Ollama is running at http://127.0.0.1:11434 with 2 models."
        );
        let openai = r#"{"object":"list","data":[{"id":"qwen2.5-7b-instruct","object":"model"}]}"#;
        let f = diagnose(
            Server::LmStudio,
            Probe::Answered {
                body: openai.into(),
            },
            ORIGIN,
        );
        assert_eq!(
            f.state,
            ServerState::Running {
                models: vec!["qwen2.5-7b-instruct".into()]
            }
        );
        assert!(f.message.ends_with("with 1 model."), "{}", f.message);
    }

    #[test]
    fn refusals_say_how_to_allow_the_extension() {
        let f = diagnose(Server::Ollama, Probe::Refused { status: 403 }, ORIGIN);
        assert!(f.message.contains("answered 403"), "{}", f.message);
        assert!(f
            .message
            .contains("OLLAMA_ORIGINS=moz-extension://1234-abcd"));
        let f = diagnose(Server::LmStudio, Probe::Blocked, ORIGIN);
        assert!(f.message.contains("(CORS)") && f.message.contains("Enable CORS"));
        let f = diagnose(Server::LlamaCpp, Probe::NotRunning, ORIGIN);
        assert_eq!(f.state, ServerState::NotRunning);
        assert_eq!(
            f.message,
            "llama.cpp: nothing answers at http://127.0.0.1:8080. Is it running?"
        );
        let f = diagnose(Server::Ollama, Probe::Redirected, ORIGIN);
        assert_eq!(f.state, ServerState::Unreadable);
        assert!(f.message.contains("redirect"), "{}", f.message);
        assert!(!f.message.contains("CORS"), "{}", f.message);
        let f = diagnose(Server::LlamaCpp, Probe::Refused { status: 500 }, ORIGIN);
        assert_eq!(f.state, ServerState::Unreadable);
    }

    #[test]
    fn hostile_lists_are_bounded() {
        let long = "m".repeat(MAX_MODEL_NAME_CHARS + 1);
        let many: Vec<serde_json::Value> = (0..MAX_MODELS + 50)
            .map(|i| serde_json::json!({"name": format!("m{i}")}))
            .collect();
        let body =
            serde_json::json!({"models": [{"name": long}, {"name": "a\u{1b}[31m"}, {"name": 3}]})
                .to_string();
        assert_eq!(
            parse_models(Server::Ollama, &body).unwrap(),
            Vec::<String>::new()
        );
        let body = serde_json::json!({ "models": many }).to_string();
        assert_eq!(
            parse_models(Server::Ollama, &body).unwrap().len(),
            MAX_MODELS
        );
        let f = diagnose(
            Server::Ollama,
            Probe::Answered {
                body: "<html>".into(),
            },
            ORIGIN,
        );
        assert_eq!(f.state, ServerState::Unreadable);
        assert!(f.message.contains("not with a model list"), "{}", f.message);
    }

    #[test]
    fn known_addresses_are_recognised() {
        assert_eq!(server_at("http://localhost:11434/"), Some(Server::Ollama));
        assert_eq!(
            server_at("http://127.0.0.1:1234/v1"),
            Some(Server::LmStudio)
        );
        assert_eq!(server_at("http://127.0.0.1:8080"), Some(Server::LlamaCpp));
        assert_eq!(server_at("http://127.0.0.1:9999"), None);
    }
}
