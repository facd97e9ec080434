//! What the integration tests share: running the binary, one model run at a
//! time, and the path of the shared evaluation data.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// Model runs take both cores and gigabytes: tests that run a model hold
/// this lock so that they run one after the other.
pub fn model_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared evaluation data (`../shared/eval` from the project root).
pub fn eval_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval")
}

pub fn seed_article() -> PathBuf {
    eval_dir().join("seed/cna-china-russia-2025-12-03.txt")
}

/// The `polybrief` binary with `args`, in the project root.
pub fn polybrief(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_polybrief"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// Runs and returns the output; panics with stderr if it could not start.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("the polybrief binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh empty folder under the system temp folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("polybrief-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The small model, for tests of mechanics rather than quality.
pub const FAST_MODEL: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m";

/// The cached file of model `id`, as the binary would find it with the
/// environment and config of this run; never fetched here.
pub fn model_path(id: &str) -> PathBuf {
    use polybrief::config::{Config, FlagLayer};
    use polybrief::store::{Catalog, ModelStore};
    let config = Config::load(&FlagLayer::default()).unwrap();
    let catalog = Catalog::load(config.models_dir.as_deref()).unwrap();
    ModelStore::new(&config.cache_dir, true)
        .ensure(catalog.get(id).unwrap())
        .unwrap_or_else(|e| panic!("{e:#}\n(run `polybrief models pull --all` first)"))
        .primary()
        .to_path_buf()
}

/// The tokenizer of the cached model `id`, read from its GGUF header (the
/// weights are not loaded).
pub fn gguf_tokenizer(id: &str) -> polybrief::engine::Tokenizer {
    polybrief::engine::Tokenizer::from_gguf_file(&model_path(id)).unwrap_or_else(|e| panic!("{e:#}"))
}
