//! Settings layered in one place: command-line flags over environment
//! variables over the config file over built-in defaults.
//!
//! The config file is `$POLYBRIEF_CONFIG`, else
//! `$XDG_CONFIG_HOME/polybrief/config.toml` (or `~/.config/...`); it is
//! optional. Every key is optional too:
//!
//! ```toml
//! cache_dir = "/data/polybrief"   # env POLYBRIEF_CACHE
//! offline = false                 # env POLYBRIEF_OFFLINE=1
//! model = "qwen2.5-coder-0.5b-instruct-q4_k_m"   # env POLYBRIEF_MODEL
//! threads = 2                     # env POLYBRIEF_THREADS
//! prompts_dir = "my-prompts"      # env POLYBRIEF_PROMPTS
//! glossary = "names.tsv"          # env POLYBRIEF_GLOSSARY: names added to the built-in ones
//! models_dir = "my-manifests"     # env POLYBRIEF_MODELS_DIR: extra manifests
//! summarizer = "distilbart-cnn-12-6"              # instead of the chat model
//! translators = ["opus-mt-en-zh", "opus-mt-en-ru"]  # each for its languages
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The settings after layering. Fields are public: this is plain data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// Where verified model files are kept.
    pub cache_dir: PathBuf,
    /// Never touch the network.
    pub offline: bool,
    /// Model id to use for the LLM tasks; `None` means the manifest default.
    pub model: Option<String>,
    /// Number of CPU threads for inference; `None` means all cores.
    pub threads: Option<usize>,
    /// A folder of prompt templates overriding the built-in ones.
    pub prompts_dir: Option<PathBuf>,
    /// A glossary of names whose entries go before the built-in ones.
    pub glossary: Option<PathBuf>,
    /// A folder of extra model manifests (`*.toml`).
    pub models_dir: Option<PathBuf>,
    /// Model id that writes summaries instead of the chat model.
    pub summarizer: Option<String>,
    /// Model ids that translate, each into the languages it is made for.
    pub translators: Vec<String>,
}

/// The environment variables [`Config::load`] reads.
pub const ENV_VARS: &[&str] = &[
    "POLYBRIEF_CONFIG",
    "POLYBRIEF_CACHE",
    "POLYBRIEF_OFFLINE",
    "POLYBRIEF_MODEL",
    "POLYBRIEF_THREADS",
    "POLYBRIEF_PROMPTS",
    "POLYBRIEF_GLOSSARY",
    "POLYBRIEF_MODELS_DIR",
];

/// What the config file may hold.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    cache_dir: Option<PathBuf>,
    offline: Option<bool>,
    model: Option<String>,
    threads: Option<usize>,
    prompts_dir: Option<PathBuf>,
    glossary: Option<PathBuf>,
    models_dir: Option<PathBuf>,
    summarizer: Option<String>,
    translators: Option<Vec<String>>,
}

/// What flags may set; `None` leaves the lower layers in force.
#[derive(Debug, Default, Clone)]
pub struct FlagLayer {
    pub config: Option<PathBuf>,
    pub cache_dir: Option<PathBuf>,
    pub offline: bool,
    pub model: Option<String>,
    pub threads: Option<usize>,
    pub prompts_dir: Option<PathBuf>,
    pub glossary: Option<PathBuf>,
    pub models_dir: Option<PathBuf>,
    pub summarizer: Option<String>,
    /// Empty leaves the lower layers in force.
    pub translators: Vec<String>,
}

impl Config {
    /// Layers `flags` over the process environment over the config file.
    pub fn load(flags: &FlagLayer) -> anyhow::Result<Config> {
        Self::load_with(flags, |k| std::env::var_os(k).map(PathBuf::from))
    }

    /// As [`Config::load`], with the environment given as a lookup (tests).
    pub fn load_with(flags: &FlagLayer, env: impl Fn(&str) -> Option<PathBuf>) -> anyhow::Result<Config> {
        let file_path = flags
            .config
            .clone()
            .or_else(|| env("POLYBRIEF_CONFIG"))
            .or_else(|| config_home(&env).map(|d| d.join("polybrief/config.toml")));
        let file = match &file_path {
            Some(p) if p.exists() => read_file_layer(p)?,
            Some(p) if flags.config.is_some() => {
                anyhow::bail!("config file {} does not exist", p.display())
            }
            _ => FileLayer::default(),
        };
        let env_str = |k: &str| env(k).map(|v| v.to_string_lossy().into_owned());
        let env_threads = match env_str("POLYBRIEF_THREADS") {
            Some(s) => Some(
                s.parse::<usize>().with_context(|| format!("POLYBRIEF_THREADS must be a whole number, not {s:?}"))?,
            ),
            None => None,
        };
        let env_offline = env_str("POLYBRIEF_OFFLINE").map(|v| !matches!(v.as_str(), "" | "0" | "false" | "no"));

        let cache_dir = flags
            .cache_dir
            .clone()
            .or_else(|| env("POLYBRIEF_CACHE"))
            .or(file.cache_dir)
            .or_else(|| cache_home(&env).map(|d| d.join("polybrief")))
            .context(
                "no cache folder: set POLYBRIEF_CACHE (or HOME, or XDG_CACHE_HOME) \
                 to a folder where models can be kept",
            )?;
        Ok(Config {
            cache_dir,
            offline: flags.offline || env_offline.or(file.offline).unwrap_or(false),
            model: flags.model.clone().or_else(|| env_str("POLYBRIEF_MODEL")).or(file.model),
            threads: flags.threads.or(env_threads).or(file.threads),
            prompts_dir: flags.prompts_dir.clone().or_else(|| env("POLYBRIEF_PROMPTS")).or(file.prompts_dir),
            glossary: flags.glossary.clone().or_else(|| env("POLYBRIEF_GLOSSARY")).or(file.glossary),
            models_dir: flags.models_dir.clone().or_else(|| env("POLYBRIEF_MODELS_DIR")).or(file.models_dir),
            summarizer: flags.summarizer.clone().or(file.summarizer),
            translators: if flags.translators.is_empty() {
                file.translators.unwrap_or_default()
            } else {
                flags.translators.clone()
            },
        })
    }

    /// These settings as a config file: a process started with `--config`
    /// on it and without the [`ENV_VARS`] (which would override the file)
    /// runs with exactly them. This is how `bench` starts the briefs it
    /// times.
    pub fn to_file_text(&self) -> anyhow::Result<String> {
        let layer = FileLayer {
            cache_dir: Some(self.cache_dir.clone()),
            offline: Some(self.offline),
            model: self.model.clone(),
            threads: self.threads,
            prompts_dir: self.prompts_dir.clone(),
            glossary: self.glossary.clone(),
            models_dir: self.models_dir.clone(),
            summarizer: self.summarizer.clone(),
            translators: Some(self.translators.clone()),
        };
        toml::to_string(&layer).context("cannot write the settings as TOML")
    }
}

fn read_file_layer(path: &Path) -> anyhow::Result<FileLayer> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {} is not valid", path.display()))
}

fn config_home(env: &impl Fn(&str) -> Option<PathBuf>) -> Option<PathBuf> {
    env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config")))
}

fn cache_home(env: &impl Fn(&str) -> Option<PathBuf>) -> Option<PathBuf> {
    env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<PathBuf> {
        let map: HashMap<String, PathBuf> = pairs.iter().map(|(k, v)| (k.to_string(), PathBuf::from(v))).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flags_beat_env_beat_file() {
        let folder = tempfile::tempdir().unwrap();
        let dir = folder.path();
        let file = dir.join("config.toml");
        std::fs::write(&file, "model = \"from-file\"\nthreads = 1\ncache_dir = \"/file\"\n").unwrap();
        let cfg_path = file.to_str().unwrap().to_string();

        let env = env_of(&[("POLYBRIEF_CONFIG", &cfg_path), ("HOME", "/home/u")]);
        let c = Config::load_with(&FlagLayer::default(), &env).unwrap();
        assert_eq!(c.model.as_deref(), Some("from-file"));
        assert_eq!(c.cache_dir, PathBuf::from("/file"));

        let env =
            env_of(&[("POLYBRIEF_CONFIG", &cfg_path), ("POLYBRIEF_MODEL", "from-env"), ("POLYBRIEF_CACHE", "/env")]);
        let c = Config::load_with(&FlagLayer::default(), &env).unwrap();
        assert_eq!(c.model.as_deref(), Some("from-env"));
        assert_eq!(c.cache_dir, PathBuf::from("/env"));
        assert_eq!(c.threads, Some(1));

        let flags = FlagLayer { model: Some("from-flag".into()), ..Default::default() };
        let c = Config::load_with(&flags, &env).unwrap();
        assert_eq!(c.model.as_deref(), Some("from-flag"));
    }

    #[test]
    fn settings_written_as_a_file_load_back_the_same() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("child.toml");
        let full = Config {
            cache_dir: "/cache".into(),
            offline: true,
            model: Some("m".into()),
            threads: Some(3),
            prompts_dir: Some("my prompts".into()),
            glossary: Some("names.tsv".into()),
            models_dir: Some("manifests".into()),
            summarizer: Some("distilbart-cnn-12-6".into()),
            translators: vec!["opus-mt-en-zh".into(), "opus-mt-en-ru".into()],
        };
        let sparse = Config { cache_dir: "/cache".into(), ..Default::default() };
        for config in [full, sparse] {
            std::fs::write(&file, config.to_file_text().unwrap()).unwrap();
            let flags = FlagLayer { config: Some(file.clone()), ..Default::default() };
            assert_eq!(Config::load_with(&flags, env_of(&[("HOME", "/home/u")])).unwrap(), config);
        }
    }

    #[test]
    fn every_polybrief_variable_read_is_listed() {
        let asked = std::cell::RefCell::new(Vec::new());
        let env = |k: &str| {
            asked.borrow_mut().push(k.to_string());
            (k == "HOME").then(|| PathBuf::from("/home/u"))
        };
        Config::load_with(&FlagLayer::default(), env).unwrap();
        let ours: std::collections::BTreeSet<String> =
            asked.into_inner().into_iter().filter(|k| k.starts_with("POLYBRIEF_")).collect();
        let listed: std::collections::BTreeSet<String> = ENV_VARS.iter().map(|k| k.to_string()).collect();
        assert_eq!(ours, listed);
    }

    #[test]
    fn cache_defaults_to_xdg() {
        let c = Config::load_with(&FlagLayer::default(), env_of(&[("HOME", "/home/u")])).unwrap();
        assert_eq!(c.cache_dir, PathBuf::from("/home/u/.cache/polybrief"));
        let c = Config::load_with(&FlagLayer::default(), env_of(&[("HOME", "/home/u"), ("XDG_CACHE_HOME", "/xdg")]))
            .unwrap();
        assert_eq!(c.cache_dir, PathBuf::from("/xdg/polybrief"));
    }

    #[test]
    fn bad_threads_named() {
        let err = Config::load_with(&FlagLayer::default(), env_of(&[("HOME", "/h"), ("POLYBRIEF_THREADS", "many")]))
            .unwrap_err();
        assert!(err.to_string().contains("POLYBRIEF_THREADS"), "{err}");
    }
}
