//! The Hugging Face Hub as a source: `GET {endpoint}/{repo}/resolve/{revision}/{file}`.
//!
//! We speak the hub's plain HTTP protocol instead of using the `hf-hub`
//! crate because the store needs what that crate does not give together:
//! resuming a cut download from its `.part` file, hashing while streaming,
//! our own atomic and locked cache, and an endpoint that tests can point at
//! a local server (`HF_ENDPOINT`). We still read the Hugging Face cache
//! (`$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`) so users
//! who already have a file do not download it again.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::{hash_file, progress_bar, sha256_file, HashingWriter, Pin};

/// How many times a download that keeps making progress is resumed.
const MAX_ATTEMPTS: usize = 20;

/// Where and how to reach the hub; read from the environment.
#[derive(Debug, Clone)]
pub struct HubClient {
    endpoint: String,
    token: Option<String>,
    hf_cache: Option<PathBuf>,
}

impl HubClient {
    /// `HF_ENDPOINT` (default `https://huggingface.co`), `HF_TOKEN`, and the
    /// Hugging Face cache folder as `huggingface_hub` finds it.
    pub fn from_env() -> HubClient {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let endpoint = var("HF_ENDPOINT")
            .map(|v| v.to_string_lossy().trim_end_matches('/').to_string())
            .unwrap_or_else(|| "https://huggingface.co".to_string());
        let token = var("HF_TOKEN").map(|v| v.to_string_lossy().trim().to_string());
        let hf_cache = var("HF_HUB_CACHE").map(PathBuf::from).or_else(|| {
            var("HF_HOME")
                .map(PathBuf::from)
                .or_else(|| var("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("huggingface")))
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface")))
                .map(|home| home.join("hub"))
        });
        HubClient { endpoint, token, hf_cache }
    }

    /// The download address of one file.
    pub fn url(&self, repo: &str, revision: &str, file: &str) -> String {
        format!("{}/{repo}/resolve/{revision}/{file}", self.endpoint)
    }

    /// The file in the local Hugging Face cache, if there is one:
    /// `models--Org--Name/snapshots/<commit>/<file>`, where a branch or tag
    /// revision is turned into its commit through `refs/<revision>`.
    pub fn find_in_hf_cache(&self, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
        let base = self.hf_cache.as_ref()?.join(format!("models--{}", repo.replace('/', "--")));
        let snapshots = base.join("snapshots");
        let commit = if snapshots.join(revision).is_dir() {
            revision.to_string()
        } else {
            fs::read_to_string(base.join("refs").join(revision)).ok()?.trim().to_string()
        };
        let path = snapshots.join(commit).join(file);
        path.is_file().then_some(path)
    }

    /// Downloads `file` into `part`, resuming from what `part` already
    /// holds, and returns the sha256 of the whole part file. A download that
    /// is cut after making progress is resumed; one that fails at once
    /// (no such host, 404) is not retried. The caller checks the pin.
    pub fn fetch(&self, repo: &str, revision: &str, file: &str, pin: &Pin, part: &Path) -> anyhow::Result<String> {
        let url = self.url(repo, revision, file);
        let agent = agent();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let before = part_len(part);
            match self.get_from(&agent, &url, file, Some(pin.size), part) {
                Ok(digest) => return Ok(digest),
                Err(e) => {
                    let now = part_len(part);
                    if now <= before || attempt >= MAX_ATTEMPTS {
                        return Err(e);
                    }
                    eprintln!("polybrief: download of {file} cut at {now} of {} bytes ({e:#}); resuming", pin.size);
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
    }

    /// Downloads `file`, whose size and hash are not known in advance, into
    /// `part` (whole, no resume: bytes of unknown origin are not trusted) and
    /// returns its sha256 and size, for the caller to record as its pin.
    pub fn fetch_unpinned(&self, repo: &str, revision: &str, file: &str, part: &Path) -> anyhow::Result<(String, u64)> {
        let url = self.url(repo, revision, file);
        let digest = self.get_from(&agent(), &url, file, None, part)?;
        Ok((digest, part_len(part)))
    }

    /// One request: from the part file's end if it has bytes, else whole.
    /// `size` is the pinned size, if any.
    fn get_from(
        &self,
        agent: &ureq::Agent,
        url: &str,
        file: &str,
        size: Option<u64>,
        part: &Path,
    ) -> anyhow::Result<String> {
        let mut start = part_len(part);
        if size.is_none_or(|size| start > size) && start > 0 {
            fs::remove_file(part)?;
            start = 0;
        }
        if Some(start) == size {
            // An earlier run got every byte but stopped before the check.
            return Ok(sha256_file(part)?);
        }
        let mut req = agent.get(url);
        if let Some(token) = &self.token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        if start > 0 {
            req = req.header("Range", format!("bytes={start}-"));
        }
        let resp = req.call().map_err(|e| anyhow::anyhow!("{e}"))?;
        let status = resp.status().as_u16();
        let content_length =
            resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let offset = match status {
            206 if start > 0 => {
                let range = resp.headers().get("content-range").and_then(|v| v.to_str().ok()).unwrap_or("");
                if !range.starts_with(&format!("bytes {start}-")) {
                    anyhow::bail!("server answered a resume request with range {range:?}");
                }
                start
            }
            200 => {
                if start > 0 {
                    eprintln!("polybrief: server does not resume downloads; starting {file} over");
                }
                0
            }
            416 if start > 0 => {
                // The server cannot serve from where we are: start over.
                eprintln!("polybrief: server cannot resume {file} at byte {start}; starting over");
                fs::remove_file(part)?;
                return self.get_from(agent, url, file, size, part);
            }
            401 | 403 => anyhow::bail!(
                "HTTP {status} for {url}: access denied; if the repository is gated or \
                 private, set HF_TOKEN to a token that can read it"
            ),
            404 => anyhow::bail!("HTTP 404 for {url}: no such repository, revision or file"),
            _ => anyhow::bail!("HTTP {status} for {url}"),
        };
        let size = match size {
            Some(size) => size,
            // Unpinned: the server's length is all there is to check against.
            None => content_length.unwrap_or(u64::MAX),
        };
        if let Some(len) = content_length {
            if offset + len != size {
                anyhow::bail!("the server offers {} bytes, but the file is pinned at {size}", offset + len);
            }
        }

        let (file_out, hasher) = if offset > 0 {
            (File::options().append(true).open(part)?, hash_file(part)?)
        } else {
            (File::create(part)?, Sha256::new())
        };
        let mut out = HashingWriter::with_hasher(file_out, hasher, offset);
        let bar = progress_bar(size, file);
        bar.set_position(offset);
        let mut body = resp.into_body().into_reader();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    out.flush()?;
                    bar.abandon();
                    return Err(anyhow::anyhow!("connection broken: {e}"));
                }
            };
            if out.written() + n as u64 > size {
                drop(out);
                fs::remove_file(part)?;
                anyhow::bail!("the server sent more than the pinned {size} bytes");
            }
            out.write_all(&buf[..n])?;
            bar.set_position(out.written());
        }
        bar.finish_and_clear();
        let written = out.written();
        let (file_out, digest) = out.finish();
        file_out.sync_all()?;
        if written != size && size != u64::MAX {
            anyhow::bail!("download ended early, at {written} of {size} bytes");
        }
        Ok(digest)
    }
}

/// An HTTP agent using the operating system's trust store. Statuses are
/// handled by us (206/200/416 all mean something for a resume).
fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        // A gated repo redirects within the hub; the CDN gets no token.
        .redirect_auth_headers(ureq::config::RedirectAuthHeaders::SameHost)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("polybrief/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

fn part_len(part: &Path) -> u64 {
    fs::metadata(part).map(|m| m.len()).unwrap_or(0)
}
