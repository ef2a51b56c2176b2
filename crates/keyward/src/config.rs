//! Where the client's settings come from: flag > environment > config file > default.
//!
//! | setting | flag | environment | config file key | default |
//! |---|---|---|---|---|
//! | API URL | `--api-url` | `KEYWARD_API_URL`, then `UNKEY_API_BASE_URL` | `api_url` | `http://127.0.0.1:7070` |
//! | root key | `--root-key` | `KEYWARD_ROOT_KEY`, then `UNKEY_ROOT_KEY` | `root_key` | none |
//! | config file | `--config` | `KEYWARD_CONFIG` | — | `$HOME/.keyward/config.toml` |
//!
//! Empty environment variables count as unset. The config file is TOML; a missing file is an
//! empty one, a broken one is a usage error. `auth login` writes it with mode 0600.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{CliError, CliResult};

pub const ROOT_KEY_ENV: [&str; 2] = ["KEYWARD_ROOT_KEY", "UNKEY_ROOT_KEY"];
pub const API_URL_ENV: [&str; 2] = ["KEYWARD_API_URL", "UNKEY_API_BASE_URL"];
pub const CONFIG_ENV: &str = "KEYWARD_CONFIG";
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:7070";
/// Relative to `$HOME`.
pub const DEFAULT_CONFIG_PATH: &str = ".keyward/config.toml";

pub const ROOT_KEY_FIELD: &str = "root_key";
pub const API_URL_FIELD: &str = "api_url";

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    ConfigFile,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::ConfigFile => f.write_str("config file"),
            Source::Default => f.write_str("default"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<T> {
    pub value: T,
    pub source: Source,
}

/// The values given on the command line.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub root_key: Option<String>,
    pub api_url: Option<String>,
    pub config: Option<PathBuf>,
}

/// The config file as read: its path, whether it exists, and its table.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: Resolved<PathBuf>,
    pub exists: bool,
    pub table: toml::Table,
}

impl ConfigFile {
    fn string(&self, field: &str) -> CliResult<Option<String>> {
        match self.table.get(field) {
            None => Ok(None),
            Some(toml::Value::String(s)) if s.is_empty() => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(CliError::usage(format!(
                "config file {}: `{field}` must be a string",
                self.path.value.display()
            ))),
        }
    }
}

/// Every client setting, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `None` when there is neither `--config`, `KEYWARD_CONFIG` nor `$HOME`.
    pub config: Option<ConfigFile>,
    pub api_url: Resolved<String>,
    pub root_key: Option<Resolved<String>>,
}

impl Settings {
    /// Resolves the settings from `flags`, the environment (read through `env`) and the config
    /// file.
    pub fn resolve(flags: &Flags, env: &dyn Fn(&str) -> Option<String>) -> CliResult<Settings> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let config_path = match (&flags.config, env(CONFIG_ENV), env("HOME")) {
            (Some(path), _, _) => Some(Resolved {
                value: path.clone(),
                source: Source::Flag("--config"),
            }),
            (None, Some(path), _) => Some(Resolved {
                value: PathBuf::from(path),
                source: Source::Env(CONFIG_ENV),
            }),
            (None, None, Some(home)) => Some(Resolved {
                value: Path::new(&home).join(DEFAULT_CONFIG_PATH),
                source: Source::Default,
            }),
            (None, None, None) => None,
        };
        let config = config_path.map(read_config).transpose()?;
        let from_file = |field: &str| -> CliResult<Option<String>> {
            match &config {
                Some(file) => file.string(field),
                None => Ok(None),
            }
        };

        let api_url = match pick(flags.api_url.clone(), "--api-url", &API_URL_ENV, &env) {
            Some(found) => found,
            None => match from_file(API_URL_FIELD)? {
                Some(url) => Resolved {
                    value: url,
                    source: Source::ConfigFile,
                },
                None => Resolved {
                    value: DEFAULT_API_URL.to_owned(),
                    source: Source::Default,
                },
            },
        };
        let api_url = Resolved {
            value: normalize_url(&api_url.value, &api_url.source)?,
            source: api_url.source,
        };

        let root_key = match pick(flags.root_key.clone(), "--root-key", &ROOT_KEY_ENV, &env) {
            Some(found) => Some(found),
            None => from_file(ROOT_KEY_FIELD)?.map(|key| Resolved {
                value: key,
                source: Source::ConfigFile,
            }),
        };
        if let (Some(key), Some(file)) = (&root_key, &config)
            && key.source == Source::ConfigFile
        {
            warn_if_readable_by_others(&file.path.value);
        }
        Ok(Settings {
            config,
            api_url,
            root_key,
        })
    }

    /// The root key, or a usage error saying the three ways to provide one.
    pub fn require_root_key(&self) -> CliResult<&str> {
        match &self.root_key {
            Some(key) => Ok(&key.value),
            None => {
                let file = match &self.config {
                    Some(file) if file.exists => {
                        format!("{} has no root_key", file.path.value.display())
                    }
                    Some(file) => format!("{} does not exist", file.path.value.display()),
                    None => "no config file: $HOME is not set".to_owned(),
                };
                Err(CliError::usage(format!(
                    "no root key: pass --root-key, set KEYWARD_ROOT_KEY (or UNKEY_ROOT_KEY), or run \
                     `keyward auth login` to save one in the config file ({file})"
                )))
            }
        }
    }
}

/// The first of the flag and the environment variables that is set.
fn pick(
    flag: Option<String>,
    flag_name: &'static str,
    vars: &[&'static str],
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Resolved<String>> {
    if let Some(value) = flag {
        return Some(Resolved {
            value,
            source: Source::Flag(flag_name),
        });
    }
    vars.iter().find_map(|var| {
        env(var).map(|value| Resolved {
            value,
            source: Source::Env(var),
        })
    })
}

/// Checks the URL and drops a trailing slash, so `<url>/v2/…` is well formed.
fn normalize_url(url: &str, source: &Source) -> CliResult<String> {
    let parsed = reqwest::Url::parse(url).map_err(|err| {
        CliError::usage(format!(
            "API URL '{url}' (from {source}) is not a URL: {err}"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(CliError::usage(format!(
            "API URL '{url}' (from {source}) must be http:// or https:// with a host, e.g. http://127.0.0.1:7070"
        )));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn read_config(path: Resolved<PathBuf>) -> CliResult<ConfigFile> {
    match std::fs::read_to_string(&path.value) {
        Ok(text) => {
            let table = text.parse::<toml::Table>().map_err(|err| {
                CliError::usage(format!(
                    "config file {} is not valid TOML: {err}",
                    path.value.display()
                ))
            })?;
            Ok(ConfigFile {
                path,
                exists: true,
                table,
            })
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile {
            path,
            exists: false,
            table: toml::Table::new(),
        }),
        Err(err) => Err(CliError::usage(format!(
            "cannot read config file {}: {err}",
            path.value.display()
        ))),
    }
}

fn warn_if_readable_by_others(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "warning: {} holds a root key but is readable by others (mode {mode:o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            );
        }
    }
}

/// Writes `table` to `path` atomically with mode 0600, creating the directory (mode 0700).
pub fn write_config(path: &Path, table: &toml::Table) -> CliResult<()> {
    let fail = |what: &str, err: std::io::Error| {
        CliError::failed(format!("cannot {what} {}: {err}", path.display()))
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail("create the directory of", e))?;
    }
    let text = toml::to_string(table)
        .map_err(|e| CliError::failed(format!("cannot write the config: {e}")))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(fail("write", err));
    }
    Ok(())
}

/// `kwroot_…x7Qa`: the prefix and the last four characters of a long key; nothing of a short one.
pub fn mask(key: &str) -> String {
    let (prefix, secret) = match key.rsplit_once('_') {
        Some((prefix, secret)) if !prefix.is_empty() && prefix.len() <= 16 => {
            (format!("{prefix}_"), secret)
        }
        _ => (String::new(), key),
    };
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() >= 20 {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{prefix}…{tail}")
    } else {
        format!("{prefix}… ({} characters, hidden)", key.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(flags: Flags, vars: &[(&str, &str)]) -> CliResult<Settings> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve(&flags, &move |name| vars.get(name).cloned())
    }

    fn config_dir(contents: &str) -> tempfile::TempDir {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".keyward")).unwrap();
        let path = home.path().join(DEFAULT_CONFIG_PATH);
        std::fs::write(&path, contents).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        home
    }

    #[test]
    fn flag_beats_env_beats_config_beats_default() {
        let home = config_dir(
            "root_key = \"from_config_key_0123456789\"\napi_url = \"http://config:1\"\n",
        );
        let home_str = home.path().to_str().unwrap();

        let s = resolve(Flags::default(), &[("HOME", home_str)]).unwrap();
        assert_eq!(
            s.api_url,
            Resolved {
                value: "http://config:1".into(),
                source: Source::ConfigFile
            }
        );
        assert_eq!(s.root_key.unwrap().source, Source::ConfigFile);

        let env = [
            ("HOME", home_str),
            ("UNKEY_API_BASE_URL", "http://unkey:2/"),
            ("UNKEY_ROOT_KEY", "unkey_key"),
        ];
        let s = resolve(Flags::default(), &env).unwrap();
        assert_eq!(
            s.api_url,
            Resolved {
                value: "http://unkey:2".into(),
                source: Source::Env("UNKEY_API_BASE_URL")
            }
        );
        assert_eq!(s.root_key.unwrap().value, "unkey_key");

        let mut env = env.to_vec();
        env.extend([
            ("KEYWARD_API_URL", "http://keyward:3"),
            ("KEYWARD_ROOT_KEY", "keyward_key"),
        ]);
        let s = resolve(Flags::default(), &env).unwrap();
        assert_eq!(s.api_url.source, Source::Env("KEYWARD_API_URL"));
        assert_eq!(s.root_key.unwrap().value, "keyward_key");

        let flags = Flags {
            root_key: Some("flag_key".into()),
            api_url: Some("http://flag:4".into()),
            config: None,
        };
        let s = resolve(flags, &env).unwrap();
        assert_eq!(
            s.api_url,
            Resolved {
                value: "http://flag:4".into(),
                source: Source::Flag("--api-url")
            }
        );
        assert_eq!(s.root_key.unwrap().source, Source::Flag("--root-key"));
    }

    #[test]
    fn defaults_and_empty_variables() {
        let s = resolve(
            Flags::default(),
            &[("KEYWARD_API_URL", ""), ("KEYWARD_ROOT_KEY", "")],
        )
        .unwrap();
        assert_eq!(
            s.api_url,
            Resolved {
                value: DEFAULT_API_URL.into(),
                source: Source::Default
            }
        );
        assert!(s.root_key.is_none());
        assert!(s.config.is_none());
        assert!(
            s.require_root_key()
                .unwrap_err()
                .to_string()
                .contains("keyward auth login")
        );
    }

    #[test]
    fn bad_inputs_are_usage_errors() {
        let home = config_dir("root_key = 42\n");
        let e = resolve(Flags::default(), &[("HOME", home.path().to_str().unwrap())]).unwrap_err();
        assert!(
            matches!(e, CliError::Usage(ref m) if m.contains("must be a string")),
            "{e}"
        );
        let home = config_dir("root_key = \n");
        let e = resolve(Flags::default(), &[("HOME", home.path().to_str().unwrap())]).unwrap_err();
        assert!(
            matches!(e, CliError::Usage(ref m) if m.contains("not valid TOML")),
            "{e}"
        );
        let e = resolve(
            Flags {
                api_url: Some("localhost:7070".into()),
                ..Flags::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, CliError::Usage(_)), "{e}");
    }

    #[test]
    fn masks_keep_little() {
        assert_eq!(
            mask("kwroot_5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"),
            "kwroot_…vyTJ"
        );
        assert_eq!(mask("abcdefghijklmnopqrstuvwxyz"), "…wxyz");
        assert_eq!(mask("short_secret"), "short_… (12 characters, hidden)");
        assert!(!mask("0123456789abcdef").contains("cdef"));
    }

    #[test]
    fn writes_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.toml");
        let mut table = toml::Table::new();
        table.insert(ROOT_KEY_FIELD.into(), "k".into());
        write_config(&path, &table).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "root_key = \"k\"\n"
        );
    }
}
