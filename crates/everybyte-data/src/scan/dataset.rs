//! The facts of the whole scan, once the threads are joined: the images grouped by colour
//! mode, and the files grouped by content (candidates share size and CRC-32, BLAKE3 confirms
//! them); then the rules judge them.

use std::collections::BTreeMap;
use std::path::Path;

use everybyte_core::Finding;

use super::aggregate::Modes;
use super::file::Columnar;
use super::walk::shown;
use super::{FileRecord, Rel, hash};
use crate::facts::{ColorModes, Fact, Facts, ModeGroup};

/// Judges the colour modes and the duplicates of the scan of `files`.
pub(crate) fn judge(
    root: &Path,
    files: &[Rel],
    modes: &Modes,
    keys: Vec<(u64, u32, usize)>,
    records: &[(usize, FileRecord)],
    findings: &mut Vec<Finding>,
) {
    let mut facts = Facts {
        rel: String::new(),
        fact: Fact::ColorModes(color_modes(files, modes)),
    };
    crate::rules::judge(&facts, findings);
    facts.fact = Fact::SameContent(same_content(root, files, keys, records));
    crate::rules::judge(&facts, findings);
}

/// The images by colour mode; the paths are looked up for every mode but the dominant one.
fn color_modes(files: &[Rel], modes: &Modes) -> ColorModes {
    let total: usize = modes.values().map(Vec::len).sum();
    let mode_name = |(m, sixteen): (&str, bool)| {
        if sixteen {
            format!("16-bit {m}")
        } else {
            m.to_owned()
        }
    };
    // The last of the most common modes, in mode order, is the dominant one.
    let dominant = modes
        .values()
        .enumerate()
        .max_by_key(|(_, v)| v.len())
        .map_or(0, |(i, _)| i);
    let groups = modes
        .iter()
        .enumerate()
        .map(|(i, (&key, idx))| ModeGroup {
            mode: mode_name(key),
            count: idx.len(),
            files: if i == dominant {
                Vec::new()
            } else {
                idx.iter().map(|&i| shown(&files[i])).collect()
            },
        })
        .collect();
    ColorModes {
        total,
        groups,
        dominant,
    }
}

/// The files grouped by BLAKE3 hash, in hash order, among the files whose size and CRC-32
/// equal another's. A file hashed for the manifest is not hashed again.
fn same_content(
    root: &Path,
    files: &[Rel],
    mut keys: Vec<(u64, u32, usize)>,
    records: &[(usize, FileRecord)],
) -> Vec<Vec<String>> {
    // The keys are one sorted run per thread: the stable sort merges runs, where the unstable
    // one would sort from scratch.
    #[allow(clippy::stable_sort_primitive)]
    keys.sort();
    let mut by_hash: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in keys.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        if group.len() < 2 {
            continue;
        }
        for &(_, _, i) in group {
            let rel = &files[i];
            let known = records
                .binary_search_by_key(&i, |(j, _)| *j)
                .ok()
                .map(|at| records[at].1.blake3.clone())
                .filter(|h| !h.is_empty());
            if let Some(h) = known.or_else(|| hash::blake3_file(&root.join(&**rel)).ok()) {
                by_hash.entry(h).or_default().push(shown(rel));
            }
        }
    }
    by_hash.into_values().collect()
}

/// The columns whose type differs between the columnar files of one dataset: the files of one
/// folder with the same column names (a dataset's shards sit side by side,
/// `data/train-00000-of-00008.parquet`, …; unrelated tables in one folder have other columns).
pub(crate) fn judge_schemas(
    files: &[Rel],
    schemas: &[(usize, Columnar)],
    findings: &mut Vec<Finding>,
) {
    // folder → column → type → (files with it, the first of them)
    type Types = BTreeMap<String, (usize, String)>;
    let mut folders: BTreeMap<String, BTreeMap<String, Types>> = BTreeMap::new();
    for (i, Columnar { schema, .. }) in schemas {
        let rel = shown(&files[*i]);
        // Parquet and Arrow name types differently: each format's files are compared apart.
        let ext = rel
            .rsplit_once('.')
            .map_or("", |(_, e)| e)
            .to_ascii_lowercase();
        let format = if matches!(ext.as_str(), "parquet" | "parq" | "pq") {
            ""
        } else {
            " (Arrow)"
        };
        let mut names: Vec<&str> = schema.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let folder = format!(
            "{}{format}\0{}",
            rel.rsplit_once('/').map_or("", |(d, _)| d),
            names.join("\0")
        );
        let columns = folders.entry(folder).or_default();
        for (name, ty) in schema {
            let e = columns
                .entry(name.clone())
                .or_default()
                .entry(ty.clone())
                .or_insert((0, rel.clone()));
            e.0 += 1;
        }
    }
    let mut facts = Facts {
        rel: String::new(),
        fact: Fact::Nothing,
    };
    for (folder, columns) in folders {
        let drift: Vec<crate::facts::ColumnDrift> = columns
            .into_iter()
            .filter(|(_, types)| types.len() > 1)
            .map(|(column, types)| crate::facts::ColumnDrift {
                column,
                types: types
                    .into_iter()
                    .map(|(ty, (n, first))| (ty, n, first))
                    .collect(),
            })
            .collect();
        if drift.is_empty() {
            continue;
        }
        let folder = folder.split('\0').next().unwrap_or_default();
        facts.rel = match folder.strip_suffix(" (Arrow)").unwrap_or(folder) {
            "" => ".".to_owned(),
            f => f.to_owned(),
        };
        facts.fact = Fact::SchemaDrift(drift);
        crate::rules::judge(&facts, findings);
    }
}

/// The folders `datasets.save_to_disk` wrote (Arrow files beside a `state.json` and a
/// `dataset_info.json`): the data files `state.json` lists must be there, and the rows of the
/// split must be the `num_examples` that `dataset_info.json` gives it (checked when this scan
/// read every listed file, as a shard may not have).
pub(crate) fn judge_saved_datasets(
    root: &Path,
    files: &[Rel],
    columnar: &[(usize, Columnar)],
    findings: &mut Vec<Finding>,
) {
    // folder → file name → rows
    let mut folders: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (i, c) in columnar {
        let rel = shown(&files[*i]);
        let (folder, name) = rel.rsplit_once('/').unwrap_or(("", rel.as_str()));
        // `datasets` names its files `data-00000-of-00001.arrow`, in lower case.
        if std::path::Path::new(name)
            .extension()
            .is_some_and(|e| e == "arrow")
        {
            folders
                .entry(folder.to_owned())
                .or_default()
                .insert(name.to_owned(), c.rows);
        }
    }
    for (folder, rows) in folders {
        let dir = root.join(&folder);
        let Some(state) = read_json(&dir.join("state.json")) else {
            continue;
        };
        let listed: Vec<String> = state["_data_files"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|f| f["filename"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let at = |name: &str| {
            if folder.is_empty() {
                name.to_owned()
            } else {
                format!("{folder}/{name}")
            }
        };
        let missing: Vec<String> = listed
            .iter()
            .filter(|f| !dir.join(f).is_file())
            .cloned()
            .collect();
        let mut fact = crate::facts::SavedDataset {
            folder: at("state.json"),
            missing,
            ..Default::default()
        };
        let split = state["_split"].as_str().unwrap_or_default().to_owned();
        let info = read_json(&dir.join("dataset_info.json"));
        let expected = info
            .as_ref()
            .and_then(|i| i["splits"][split.as_str()]["num_examples"].as_u64());
        if let Some(expected) = expected
            && fact.missing.is_empty()
            && !listed.is_empty()
            && listed.iter().all(|f| rows.contains_key(f))
        {
            let have: u64 = listed.iter().filter_map(|f| rows.get(f)).sum();
            if have != expected {
                fact.rows = Some((split, expected, have));
                fact.info = at("dataset_info.json");
            }
        }
        if fact.missing.is_empty() && fact.rows.is_none() {
            continue;
        }
        let facts = Facts {
            rel: fact.folder.clone(),
            fact: Fact::SavedDataset(fact),
        };
        crate::rules::judge(&facts, findings);
    }
}

/// A small JSON file, or `None` when it is missing, too large or not JSON.
fn read_json(path: &Path) -> Option<serde_json::Value> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.len() > 16 << 20 {
        return None;
    }
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}
