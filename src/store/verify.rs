//! `clipscope store verify`: re-reads every byte of a store against its checksums.

use std::io::Read;
use std::path::Path;

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64;

use super::cache::{State, state};
use super::chunk;
use super::format::{FileInfo, hex, sums_path};

/// Checks the store (or unfinished build) in `dir`; returns one line per problem found.
pub fn verify(dir: &Path) -> Vec<String> {
    match state(dir) {
        State::Broken(why) => vec![why],
        State::Building(key, _) => {
            let n = key.images.count.div_ceil(key.chunk_images.max(1));
            (0..n)
                .into_par_iter()
                .filter_map(|c| chunk::complete(dir, c))
                .filter_map(|rec| chunk::read_data(dir, &rec).err().map(|e| e.to_string()))
                .collect()
        }
        State::Finished(m) => m
            .files
            .par_iter()
            .filter_map(|(name, info)| check_file(dir, name, info).err())
            .collect(),
    }
}

fn check_file(dir: &Path, name: &str, info: &FileInfo) -> Result<(), String> {
    let path = dir.join(name);
    let bad = |what: &str| format!("{}: {what}", path.display());
    let mut file = std::fs::File::open(&path).map_err(|e| bad(&e.to_string()))?;
    let sums =
        std::fs::read(sums_path(dir, name)).map_err(|e| bad(&format!("piece checksums: {e}")))?;
    let mut sha = Sha256::new();
    let mut piece = vec![0u8; info.piece_bytes.max(1) as usize];
    let (mut total, mut p) = (0u64, 0usize);
    loop {
        let n = read_full(&mut file, &mut piece).map_err(|e| bad(&e.to_string()))?;
        if n == 0 {
            break;
        }
        sha.update(&piece[..n]);
        let want = sums
            .get(8 * p..8 * p + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes);
        if want != Some(xxh3_64(&piece[..n])) {
            return Err(bad(&format!(
                "checksum mismatch in bytes {}..{}",
                total,
                total + n as u64
            )));
        }
        total += n as u64;
        p += 1;
    }
    if total != info.bytes {
        return Err(bad(&format!(
            "{total} bytes, the manifest says {}",
            info.bytes
        )));
    }
    if hex(&sha.finalize()) != info.sha256 {
        return Err(bad("SHA-256 differs from the manifest"));
    }
    Ok(())
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let n = file.read(&mut buf[got..])?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(got)
}
