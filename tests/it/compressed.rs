//! Compressed data files: `.csv.gz` (every gzip member, as pigz and bgzip
//! write them) and `.csv.zst` (every zstd frame) load as their plain twins,
//! in one transaction and in parallel; errors, orphans and rejects are at the
//! lines of the text; a name that lies about the bytes, and a cut-off file,
//! are refused naming the file, with nothing written. And the files of the
//! directory fkload does not load are never passed over in silence.

use std::io::Write;
use std::path::Path;

use crate::util::pg::TestDb;
use crate::util::support::{Scenario, assert_unchanged, fkload, snapshot, write};

const SCHEMA: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, note text);";

/// Text of customers and orders, over 2 MiB (more than one chunk of the
/// decompressing thread) with quoted line breaks, quotes and CRLF, so that
/// records, lines and bytes all differ.
fn texts() -> (String, String) {
    let mut customers = String::from("id,name\r\n");
    let mut orders = String::from("id,customer_id,note\n");
    for i in 1..=30_000 {
        customers.push_str(&format!("{i},\"name {i}\r\nsecond \"\"line\"\"\"\r\n"));
        orders.push_str(&format!("{i},{},\"note {i}\nmore\"\n", (i % 30_000) + 1));
    }
    (customers, orders)
}

/// `text` cut every `every` bytes, each piece a gzip member of its own.
fn gzip(text: &[u8], every: usize) -> Vec<u8> {
    text.chunks(every)
        .flat_map(|piece| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(piece).unwrap();
            e.finish().unwrap()
        })
        .collect()
}

/// `text` cut every `every` bytes, each piece a zstd frame of its own.
fn zstd(text: &[u8], every: usize) -> Vec<u8> {
    text.chunks(every)
        .flat_map(|piece| zstd::stream::encode_all(piece, 1).unwrap())
        .collect()
}

/// What each table holds, for comparing two loads.
fn contents(db: &TestDb) -> Vec<String> {
    ["customers", "orders"]
        .iter()
        .flat_map(|t| {
            db.query_strings(&format!(
                "SELECT '{t} ' || count(*) || ' ' || md5(coalesce(string_agg(x::text, '|' ORDER BY x.id), '')) FROM {t} x"
            ))
        })
        .collect()
}

fn scenario(label: &str, files: &[(&str, Vec<u8>)]) -> Scenario {
    let s = Scenario::new(label, SCHEMA, &[]);
    for (name, bytes) in files {
        write(s.path(), name, bytes);
    }
    s
}

#[test]
fn compressed_files_load_as_their_plain_twins() {
    let (customers, orders) = texts();
    let plain = scenario(
        "gz_plain",
        &[
            ("customers.csv", customers.clone().into_bytes()),
            ("orders.csv", orders.clone().into_bytes()),
        ],
    );
    plain.run(&[]).ok();
    let want = contents(&plain.db);
    assert!(want[0].starts_with("customers 30000 "), "{want:?}");
    // Members and frames cut inside records, inside quoted fields, between
    // the CR and the LF; one member for the whole file too.
    for (label, files) in [
        (
            "gz_gzip",
            vec![
                ("customers.csv.gz", gzip(customers.as_bytes(), 4099)),
                ("orders.csv.gz", gzip(orders.as_bytes(), usize::MAX)),
            ],
        ),
        (
            "gz_zstd",
            vec![
                ("customers.csv.zst", zstd(customers.as_bytes(), 65_537)),
                ("orders.csv.zst", zstd(orders.as_bytes(), 1_000_003)),
            ],
        ),
        (
            "gz_mixed",
            vec![
                ("customers.csv.zst", zstd(customers.as_bytes(), usize::MAX)),
                ("orders.csv.gz", gzip(orders.as_bytes(), 777)),
            ],
        ),
    ] {
        for args in [
            &[][..],
            &["-j", "2"],
            &["--strategy", "revalidate", "--truncate"],
        ] {
            let s = scenario(label, &files);
            s.run(args).ok();
            assert_eq!(contents(&s.db), want, "{label} {args:?}");
        }
    }
}

#[test]
fn a_bad_value_in_a_compressed_file_is_reported_at_its_line() {
    let (customers, orders) = texts();
    // Record 20,000 of orders starts on line 2 * 19,999 + 2.
    let bad = orders.replacen("\n20000,20001,", "\n20000,x,", 1);
    assert_ne!(bad, orders);
    for (name, bytes) in [
        ("orders.csv.gz", gzip(bad.as_bytes(), 10_007)),
        ("orders.csv.zst", zstd(bad.as_bytes(), 100_003)),
    ] {
        let s = scenario(
            "gz_bad_value",
            &[
                ("customers.csv", customers.clone().into_bytes()),
                (name, bytes),
            ],
        );
        let before = snapshot(&s.db);
        s.run(&[]).fails(3).stderr_has(&format!(
            "{name}:40000: ERROR:  invalid input syntax for type integer: \"x\""
        ));
        assert_unchanged(&s.db, &before);
    }
}

#[test]
fn a_name_that_lies_about_the_bytes_or_a_cut_off_file_is_refused() {
    let (customers, orders) = texts();
    let gz = gzip(orders.as_bytes(), usize::MAX);
    let zst = zstd(orders.as_bytes(), usize::MAX);
    for (name, bytes, says) in [
        (
            "orders.csv",
            gz.clone(),
            "the file is gzip-compressed, but its name ends in .csv: name it orders.csv.gz",
        ),
        (
            "orders.csv",
            zst.clone(),
            "the file is zstd-compressed, but its name ends in .csv: name it orders.csv.zst",
        ),
        (
            "orders.csv.gz",
            orders.clone().into_bytes(),
            "the name says gzip but the file is not gzip data (it starts with 69 64 2c 63)",
        ),
        (
            "orders.csv.zst",
            gz.clone(),
            "the name says zstd but the file is not zstd data",
        ),
        (
            "orders.csv.gz",
            gz[..gz.len() / 2].to_vec(),
            "orders.csv.gz",
        ),
        (
            "orders.csv.zst",
            zst[..zst.len() / 2].to_vec(),
            "orders.csv.zst",
        ),
    ] {
        for args in [&[][..], &["-j", "2"]] {
            let s = scenario(
                "gz_lies",
                &[
                    ("customers.csv", customers.clone().into_bytes()),
                    (name, bytes.clone()),
                ],
            );
            let before = snapshot(&s.db);
            let out = s.run(args).fails(1).stderr_has(says);
            assert!(out.stderr.contains(name), "{}", out.stderr);
            assert_unchanged(&s.db, &before);
        }
    }
}

#[test]
fn orphans_and_rejects_of_a_compressed_file_are_at_the_lines_of_its_text() {
    let customers = "id,name\n1,a\n2,b\n";
    let orders = "id,customer_id,note\n1,1,\"x\r\ny\"\n2,9,z\n3,2,\"p\nq\"\n4,8,\"r\ns\"\n";
    for (name, bytes) in [
        ("orders.csv.gz", gzip(orders.as_bytes(), 7)),
        ("orders.csv.zst", zstd(orders.as_bytes(), 9)),
    ] {
        let s = scenario(
            "gz_orphans",
            &[
                ("customers.csv", customers.as_bytes().to_vec()),
                (name, bytes),
            ],
        );
        for prepare in [
            "",
            "INSERT INTO customers VALUES (100, 'old'); INSERT INTO orders VALUES (100, 100, 'old')",
        ] {
            // Searched in place, then (a table with rows) in the file.
            s.db.exec(prepare);
            let out = fkload(&s.db, s.path(), &["check"]).fails(1);
            for (line, key) in [(4, 9), (7, 8)] {
                assert!(
                    out.stderr.contains(&format!(
                        "{name}:{line}: key (customer_id)=({key}) is not present"
                    )),
                    "{prepare:?}:\n{}",
                    out.stderr
                );
            }
        }
        s.db.exec("DELETE FROM orders; DELETE FROM customers");
        let rejects = s.path().join("rejects");
        let dir = rejects.to_str().unwrap();
        s.run(&["--on-orphan", "skip", "--reject-dir", dir]).ok();
        assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 2);
        let rejected = std::fs::read_to_string(Path::new(dir).join("orders.rejects.csv")).unwrap();
        assert!(rejected.contains("2,9,z,"), "{rejected}");
        assert!(rejected.contains("4,8,\"r\ns\","), "{rejected}");
    }
}

/// Nothing in the directory is passed over without a word: `-l` lists what
/// it will not load and why, a load warns about each (`-q` silences it), and
/// a directory with no data file at all is an error that lists what it
/// holds, not a load of nothing.
#[test]
fn files_not_loaded_are_listed_warned_about_and_no_data_is_an_error() {
    let s = Scenario::new(
        "not_loaded",
        SCHEMA,
        &[
            ("customers.csv", "id,name\n1,a\n"),
            ("orders.txt", "id\tcustomer_id\tnote\n1\t1\tx\n"),
            ("orders.csv.bz2", "BZh"),
            ("README", "about"),
            (".DS_Store", ""),
        ],
    );
    let listed = s.run(&["-l"]).ok();
    for line in [
        "not loaded:\n  README: not a data file: fkload loads <table>.csv and <table>.tsv (each also .gz or .zst), and the files fkload.toml names\n",
        "  orders.csv.bz2: compressed as .bz2, which fkload does not read: decompress it, or compress it as .csv.gz or .csv.zst\n",
        "  orders.txt: not a data file",
    ] {
        assert!(
            listed.stdout.contains(line),
            "{line:?} in:\n{}",
            listed.stdout
        );
    }
    assert!(!listed.stdout.contains("DS_Store"), "{}", listed.stdout);
    let loaded = s.run(&[]).ok();
    assert_eq!(
        loaded
            .stderr
            .matches("fkload: warning: not loading ")
            .count(),
        3,
        "{}",
        loaded.stderr
    );
    assert!(
        loaded.stderr.contains("orders.txt: not a data file"),
        "{}",
        loaded.stderr
    );
    s.db.exec("TRUNCATE orders, customers");
    let quiet = s.run(&["-q"]).ok();
    assert!(!quiet.stderr.contains("warning"), "{}", quiet.stderr);

    let none = Scenario::new(
        "no_data",
        SCHEMA,
        &[
            ("orders.txt", "id\tcustomer_id\tnote\n1\t1\tx\n"),
            (".gitkeep", ""),
        ],
    );
    let before = snapshot(&none.db);
    for args in [&[][..], &["-l"], &["check"]] {
        none.run(args).fails(1).stderr_has(&format!(
            "{}: no data files: fkload loads <table>.csv and <table>.tsv (each also .gz or .zst), and the files fkload.toml names\nDETAIL:  orders.txt: not a data file",
            none.path().display()
        ));
    }
    let empty = Scenario::new("no_files", SCHEMA, &[]);
    empty.run(&[]).fails(1).stderr_has("no data files");
    assert_unchanged(&none.db, &before);
}

/// The summary, `-v` and the JSON report give a compressed file's two sizes:
/// the file's own, and the text it held.
#[test]
fn both_sizes_of_a_compressed_file_are_reported() {
    let (customers, orders) = texts();
    let s = scenario(
        "gz_sizes",
        &[
            ("customers.csv", customers.clone().into_bytes()),
            ("orders.csv.gz", gzip(orders.as_bytes(), usize::MAX)),
        ],
    );
    let report = s.path().join("report.json");
    let out = s.run(&["-v", "--report", report.to_str().unwrap()]).ok();
    let gz_len = std::fs::metadata(s.path().join("orders.csv.gz"))
        .unwrap()
        .len();
    out.stderr_has(&format!(
        "  30000 rows ({} of text from {}) in ",
        human(orders.len() as u64),
        human(gz_len)
    ))
    .stdout_has(&format!(
        "loaded 60000 rows ({}, {} of text)",
        human(customers.len() as u64 + gz_len),
        human((customers.len() + orders.len()) as u64)
    ));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let tables = json["tables"].as_array().unwrap();
    let orders_json = tables
        .iter()
        .find(|t| t["file"].as_str().unwrap().ends_with("orders.csv.gz"))
        .unwrap();
    assert_eq!(orders_json["bytes"], gz_len);
    assert_eq!(orders_json["text_bytes"], orders.len() as u64);
    assert_eq!(
        json["result"]["text_bytes"],
        (customers.len() + orders.len()) as u64
    );
}

/// Progress counts a compressed file's own bytes, as the plan counts its
/// size, also when rows are left out on the way (`--on-orphan`): it ends at
/// the file's size and never passes it.
#[test]
fn progress_of_an_edited_compressed_file_ends_at_its_size() {
    let (customers, mut orders) = texts();
    orders.push_str("99999,424242,orphan\n");
    let s = scenario(
        "gz_progress",
        &[
            ("customers.csv.gz", gzip(customers.as_bytes(), 1 << 20)),
            ("orders.csv.gz", gzip(orders.as_bytes(), 1 << 20)),
        ],
    );
    let config: postgres::Config = s.db.url.parse().unwrap();
    let rejects = tempfile::tempdir().unwrap();
    let loader = fkload::Loader::builder()
        .connector(fkload::Connector::from_config(config))
        .on_orphan(fkload::OnOrphan::Skip)
        .reject_dir(rejects.path())
        .build();
    let plan = loader.plan(s.path()).unwrap();
    let mut last: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    loader
        .load(&plan, &mut |e| {
            if let fkload::Event::Progress { step, sent } = e {
                let entry = last
                    .entry(step.file_name().to_string())
                    .or_insert((0, step.bytes()));
                assert!(
                    sent <= step.bytes(),
                    "{}: {sent} of {} bytes",
                    step.file_name(),
                    step.bytes()
                );
                entry.0 = sent;
            }
        })
        .unwrap();
    let orders = &last["orders.csv.gz"];
    assert_eq!(orders.0, orders.1, "progress ends at the file's size");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 30_000);
}

/// Bytes as fkload's summary and `-v` write them (`512 B`, `3.2 kB`,
/// `1.5 MB`).
fn human(b: u64) -> String {
    fkload::Report::human_bytes(b)
}
