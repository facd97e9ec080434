//! `polybrief models`: list, fetch, verify, locate, remove and import the
//! models of the catalog.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use polybrief::config::Config;
use polybrief::store::{format_size, Catalog, FileCheck, Manifest, ModelStore};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Show every known model: id, default mark, size, whether cached.
    List,
    /// Download and verify models (the default model if none is named).
    Pull {
        /// Model ids.
        ids: Vec<String>,
        /// Every model of the catalog.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
    },
    /// Re-hash cached files against their pins (every cached model if none
    /// is named); exits 1 if any is bad or missing.
    Verify { ids: Vec<String> },
    /// Print the path of a cached model's main file (default: --model or
    /// the default model).
    Path { id: Option<String> },
    /// Delete a model from the cache.
    Rm { id: String },
    /// Copy a model's files from PATH (a file, or a folder holding the
    /// manifest's file names) into the cache, after checking them.
    Import { id: String, path: PathBuf },
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load(config.models_dir.as_deref())?;
    let store = ModelStore::from_config(config);
    match args.command {
        ModelsCommand::List => {
            for m in catalog.models() {
                let mark = if m.default { "*" } else { " " };
                let state = if store.cached(m).is_some() { "cached" } else { "-" };
                // Files the manifest does not pin get their pin at first download.
                let pinned = store.with_recorded_pins(m);
                let unknown = pinned.unpinned_files().count();
                let size = if unknown > 0 { "?".to_string() } else { format_size(pinned.total_size()) };
                let pins = match m.unpinned_files().count() {
                    0 => String::new(),
                    n if unknown > 0 => format!(" [{n} files: pinned at first download, in pins.lock]"),
                    n => format!(" [{n} files pinned at first download, in pins.lock]"),
                };
                println!("{mark} {:<40} {:>9}  {:<6}  {}{pins}", m.id, size, state, m.description);
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Pull { ids, all } => {
            let models: Vec<&Manifest> = if all {
                catalog.models().iter().collect()
            } else if ids.is_empty() {
                vec![catalog.get_or_default(config.model.as_deref())?]
            } else {
                ids.iter().map(|id| catalog.get(id)).collect::<anyhow::Result<_>>()?
            };
            for m in models {
                let started = std::time::Instant::now();
                let was_cached = store.cached(m).is_some();
                let local = store.ensure(m)?;
                if was_cached {
                    eprintln!("polybrief: {} is already cached", m.id);
                } else {
                    eprintln!("polybrief: {} ready in {:.1} s", m.id, started.elapsed().as_secs_f64());
                }
                println!("{}", local.primary().display());
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Verify { ids } => {
            let models: Vec<&Manifest> = if ids.is_empty() {
                // Models with at least one file in the cache (an empty folder
                // may be left by an offline attempt).
                let dir_has = |m: &Manifest, name: &str| store.model_dir(&m.id).join(name).exists();
                let cached: Vec<&Manifest> =
                    catalog.models().iter().filter(|m| m.files.iter().any(|f| dir_has(m, &f.name))).collect();
                if cached.is_empty() {
                    eprintln!("polybrief: no model is cached; nothing to verify");
                }
                cached
            } else {
                ids.iter().map(|id| catalog.get(id)).collect::<anyhow::Result<_>>()?
            };
            let mut all_good = true;
            for m in models {
                for (spec, check) in store.verify(m)? {
                    let verdict = match &check {
                        FileCheck::Good => "ok".to_string(),
                        FileCheck::Missing => {
                            format!("MISSING (fetch it with `polybrief models pull {}`)", m.id)
                        }
                        FileCheck::Bad(why) => {
                            format!("BAD: {why} (it will be replaced on the next `polybrief models pull {}`)", m.id)
                        }
                    };
                    all_good &= check == FileCheck::Good;
                    println!("{} {}: {verdict}", m.id, spec.name);
                }
            }
            Ok(if all_good { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        ModelsCommand::Path { id } => {
            let m = catalog.get_or_default(id.as_deref().or(config.model.as_deref()))?;
            match store.cached(m) {
                Some(local) => {
                    println!("{}", local.primary().display());
                    Ok(ExitCode::SUCCESS)
                }
                None => anyhow::bail!(
                    "model {} is not cached in {}; fetch it with `polybrief models pull {}`",
                    m.id,
                    store.model_dir(&m.id).display(),
                    m.id
                ),
            }
        }
        ModelsCommand::Rm { id } => {
            let m = catalog.get(&id)?;
            if store.remove(m)? {
                eprintln!("polybrief: removed {} from the cache", m.id);
            } else {
                eprintln!("polybrief: {} was not cached", m.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        ModelsCommand::Import { id, path } => {
            let m = catalog.get(&id)?;
            let local = store.import(m, &path)?;
            eprintln!("polybrief: imported {} into the cache", m.id);
            println!("{}", local.primary().display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
