use std::fs;
use std::io::Write;

use super::config::FullPolicy;
use super::wal::{RecordId, Wal, WalError, WalOptions};

fn opts(max: u64, segment: u64, policy: FullPolicy) -> WalOptions {
    WalOptions { max_bytes: max, segment_bytes: segment, policy, sync_every_append: false }
}

/// The segment files, without their ack sidecars.
fn segments(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".wal"))
        .collect();
    v.sort();
    v
}

fn drain(w: &mut Wal) -> Vec<(RecordId, Vec<u8>)> {
    std::iter::from_fn(|| w.next_record().unwrap()).map(|r| (r.id, r.data)).collect()
}

#[test]
fn appends_reads_in_order_and_deletes_acked_segments() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, report) = Wal::open(dir.path(), opts(1 << 20, 100, FullPolicy::Block)).unwrap();
    assert_eq!(report.records, 0);
    for i in 0..6u8 {
        w.append(&[i; 40], 1).unwrap();
    }
    // 52-byte records, 100-byte segments: one record per segment after the first.
    assert_eq!(w.segment_count(), 6);
    let got = drain(&mut w);
    assert_eq!(got.iter().map(|(_, d)| d[0]).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5]);
    for (seg, _) in &got[..5] {
        w.ack(*seg).unwrap();
    }
    // Only the active segment stays, even though its record is still unacked.
    assert_eq!(w.segment_count(), 1);
    assert_eq!(segments(dir.path()).len(), 1);
    assert_eq!(w.size_bytes(), 52);
    // Once that is delivered too, the segment is emptied and nothing is replayed.
    w.ack(got[5].0).unwrap();
    assert_eq!(w.size_bytes(), 0);
    w.append(b"after", 1).unwrap();
    drop(w);
    let (mut w, report) = Wal::open(dir.path(), opts(1 << 20, 100, FullPolicy::Block)).unwrap();
    assert_eq!((report.records, report.corrupt), (1, 0));
    assert_eq!(drain(&mut w)[0].1, b"after".to_vec());
}

#[test]
fn replays_unacked_records_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _) = Wal::open(dir.path(), opts(1 << 20, 60, FullPolicy::Block)).unwrap();
        for i in 0..4u8 {
            w.append(&[i; 40], 3).unwrap();
        }
        let r = w.next_record().unwrap().unwrap();
        w.ack(r.id).unwrap();
        w.next_record().unwrap().unwrap(); // read but not acked: must come back
        w.sync().unwrap();
    }
    let (mut w, report) = Wal::open(dir.path(), opts(1 << 20, 60, FullPolicy::Block)).unwrap();
    assert_eq!((report.records, report.items, report.corrupt), (3, 9, 0));
    assert_eq!(drain(&mut w).iter().map(|(_, d)| d[0]).collect::<Vec<_>>(), vec![1, 2, 3]);
    // Appends after a reopen go to a new segment, after the replayed ones.
    w.append(b"new", 1).unwrap();
    assert_eq!(drain(&mut w).len(), 1);
}

#[test]
fn torn_tail_is_truncated_not_replayed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _) = Wal::open(dir.path(), opts(1 << 20, 1 << 20, FullPolicy::Block)).unwrap();
        w.append(b"first", 1).unwrap();
        w.append(b"second", 1).unwrap();
    }
    let seg = dir.path().join(&segments(dir.path())[0]);
    let full = fs::metadata(&seg).unwrap().len();
    // A crash mid-write: half of a third record's header and body.
    fs::OpenOptions::new().append(true).open(&seg).unwrap().write_all(&[9, 0, 0, 0, 1, 2, 3]).unwrap();
    let (mut w, report) = Wal::open(dir.path(), opts(1 << 20, 1 << 20, FullPolicy::Block)).unwrap();
    assert_eq!((report.records, report.corrupt, report.truncated_bytes), (2, 1, 7));
    assert_eq!(fs::metadata(&seg).unwrap().len(), full);
    assert_eq!(
        drain(&mut w).into_iter().map(|(_, d)| d).collect::<Vec<_>>(),
        vec![b"first".to_vec(), b"second".to_vec()]
    );
}

#[test]
fn corrupt_record_cuts_its_segment_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, _) = Wal::open(dir.path(), opts(1 << 20, 40, FullPolicy::Block)).unwrap();
        for d in [b"aaaaaaaaaa", b"bbbbbbbbbb", b"cccccccccc"] {
            w.append(d, 2).unwrap();
        }
    }
    let names = segments(dir.path());
    assert_eq!(names.len(), 3); // one record each
                                // Flip one payload byte of the middle segment.
    let mid = dir.path().join(&names[1]);
    let mut bytes = fs::read(&mid).unwrap();
    bytes[14] ^= 0xff;
    fs::write(&mid, bytes).unwrap();
    // And fill another with garbage.
    fs::write(dir.path().join(&names[2]), b"\xff\xff\xff\xffgarbage").unwrap();
    let (mut w, report) = Wal::open(dir.path(), opts(1 << 20, 40, FullPolicy::Block)).unwrap();
    assert_eq!((report.records, report.items, report.corrupt), (1, 2, 2));
    assert_eq!(drain(&mut w).into_iter().map(|(_, d)| d).collect::<Vec<_>>(), vec![b"aaaaaaaaaa".to_vec()]);
}

#[test]
fn corruption_after_open_is_reported_by_next() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = Wal::open(dir.path(), opts(1 << 20, 1 << 20, FullPolicy::Block)).unwrap();
    w.append(b"payload", 1).unwrap();
    let seg = dir.path().join(&segments(dir.path())[0]);
    let mut bytes = fs::read(&seg).unwrap();
    bytes[13] ^= 1;
    fs::write(&seg, bytes).unwrap();
    assert!(matches!(w.next_record(), Err(WalError::Corrupt { .. })));
    assert!(w.next_record().unwrap().is_none());
    assert_eq!(w.unread(), 0);
}

#[test]
fn block_policy_refuses_when_full_until_acked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = Wal::open(dir.path(), opts(200, 52, FullPolicy::Block)).unwrap();
    for i in 0..3u8 {
        w.append(&[i; 40], 1).unwrap();
    }
    assert!(matches!(w.append(&[9; 40], 1), Err(WalError::Full { max: 200 })));
    assert!(matches!(w.append(&[0; 300], 1), Err(WalError::TooLarge(300))));
    let r = w.next_record().unwrap().unwrap();
    w.ack(r.id).unwrap();
    w.append(&[3; 40], 1).unwrap();
    assert_eq!(drain(&mut w).iter().map(|(_, d)| d[0]).collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn drop_oldest_deletes_unsent_records_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let (mut w, _) = Wal::open(dir.path(), opts(200, 52, FullPolicy::DropOldest)).unwrap();
    for i in 0..3u8 {
        assert_eq!(w.append(&[i; 40], 5).unwrap().records, 0);
    }
    let dropped = w.append(&[3; 40], 5).unwrap();
    assert_eq!((dropped.records, dropped.items), (1, 5));
    let dropped = w.append(&[4; 40], 5).unwrap();
    assert_eq!((dropped.records, dropped.items), (1, 5));
    assert!(w.size_bytes() <= 200);
    assert_eq!(drain(&mut w).iter().map(|(_, d)| d[0]).collect::<Vec<_>>(), vec![2, 3, 4]);
}

/// Ten one-item records `[i; 20]` in one (non-active) segment, read out by "consumers".
fn ten_in_one_segment(dir: &std::path::Path) -> (Wal, Vec<(RecordId, Vec<u8>)>) {
    let (mut w, _) = Wal::open(dir, opts(1 << 20, 1 << 20, FullPolicy::Block)).unwrap();
    for i in 0..10u8 {
        w.append(&[i; 20], 1).unwrap();
    }
    let got = drain(&mut w);
    assert!(got.iter().all(|(id, _)| id.segment == got[0].0.segment));
    (w, got)
}

fn reopen(dir: &std::path::Path) -> (Wal, super::wal::OpenReport) {
    Wal::open(dir, opts(1 << 20, 1 << 20, FullPolicy::Block)).unwrap()
}

fn firsts(got: &[(RecordId, Vec<u8>)]) -> Vec<u8> {
    got.iter().map(|(_, d)| d[0]).collect()
}

fn ack_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join(segments(dir)[0].replace(".wal", ".ack"))
}

#[test]
fn acks_written_at_sync_are_not_replayed_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, got) = ten_in_one_segment(dir.path());
        // Out of order, as several consumers finish them.
        for i in [7, 2, 0, 9, 3] {
            w.ack(got[i].0).unwrap();
        }
        w.sync().unwrap();
        // Acked after the last sync: not on disk yet, so sent again.
        w.ack(got[5].0).unwrap();
    }
    let (mut w, report) = reopen(dir.path());
    assert_eq!((report.records, report.items, report.acked, report.acked_items), (5, 5, 5, 5));
    let again = drain(&mut w);
    assert_eq!(firsts(&again), vec![1, 4, 5, 6, 8]);
    // Acks after a restart go to the same sidecar; the next start skips them too.
    for (id, _) in &again[..3] {
        w.ack(*id).unwrap();
    }
    w.sync().unwrap();
    drop(w);
    let (mut w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (2, 8));
    assert_eq!(firsts(&drain(&mut w)), vec![6, 8]);
}

#[test]
fn fully_acked_segments_and_orphan_sidecars_are_removed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, got) = ten_in_one_segment(dir.path());
        for (id, _) in &got[..9] {
            w.ack(*id).unwrap();
        }
        w.sync().unwrap();
    }
    // After a restart the last record is delivered: the segment goes, with its sidecar.
    let (mut w, _) = reopen(dir.path());
    let last = drain(&mut w);
    assert_eq!(firsts(&last), vec![9]);
    w.ack(last[0].0).unwrap();
    drop(w);
    // A sidecar whose segment is gone (a crash between the two deletions).
    fs::write(dir.path().join(format!("{:020}.ack", 99)), b"stale").unwrap();
    let (_w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (0, 0));
    let names: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(names.iter().all(|n| !n.ends_with(".ack")), "{names:?}");
}

#[test]
fn a_torn_ack_file_replays_what_it_no_longer_covers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, got) = ten_in_one_segment(dir.path());
        for i in [1, 3, 5] {
            w.ack(got[i].0).unwrap();
        }
        w.sync().unwrap();
    }
    let ack = ack_file(dir.path());
    assert_eq!(fs::metadata(&ack).unwrap().len(), 36);
    // A crash mid-write of a fourth entry.
    fs::OpenOptions::new().append(true).open(&ack).unwrap().write_all(&[4, 0, 0, 0, 1]).unwrap();
    let (mut w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (7, 3));
    // The torn tail is cut, so entries appended after it stay readable.
    assert_eq!(fs::metadata(&ack).unwrap().len(), 36);
    let again = drain(&mut w);
    assert_eq!(firsts(&again), vec![0, 2, 4, 6, 7, 8, 9]);
    w.ack(again[0].0).unwrap();
    w.sync().unwrap();
    drop(w);
    let (_w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (6, 4));
}

#[test]
fn a_corrupt_ack_entry_replays_everything_from_there_never_less() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, got) = ten_in_one_segment(dir.path());
        for i in [1, 3, 5, 7] {
            w.ack(got[i].0).unwrap();
        }
        w.sync().unwrap();
    }
    let ack = ack_file(dir.path());
    let mut bytes = fs::read(&ack).unwrap();
    bytes[12] ^= 0x02; // the second entry's index: 3 becomes 1
    fs::write(&ack, bytes).unwrap();
    let (mut w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (9, 1));
    assert_eq!(firsts(&drain(&mut w)), vec![0, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Garbage in place of the whole sidecar: everything is replayed.
    drop(w);
    fs::write(&ack, vec![0xffu8; 48]).unwrap();
    let (_w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (10, 0));
}

#[test]
fn ack_entries_only_apply_to_the_record_they_were_written_for() {
    let dir = tempfile::tempdir().unwrap();
    let first;
    {
        let (mut w, _) = Wal::open(dir.path(), opts(1 << 20, 1 << 20, FullPolicy::Block)).unwrap();
        w.append(b"one", 1).unwrap();
        w.append(b"two", 1).unwrap();
        let got = drain(&mut w);
        w.ack(got[0].0).unwrap();
        w.sync().unwrap();
        first = fs::read(ack_file(dir.path())).unwrap();
        assert_eq!(first.len(), 12);
        // Fully delivered: the active segment and its sidecar are emptied, then refilled.
        w.ack(got[1].0).unwrap();
        assert_eq!(fs::metadata(ack_file(dir.path())).unwrap().len(), 0);
        w.append(b"three", 1).unwrap();
        w.append(b"four", 1).unwrap();
        w.sync().unwrap();
    }
    // Had a power cut kept the old sidecar, its entry for index 0 must not hide "three".
    fs::write(ack_file(dir.path()), &first).unwrap();
    let (mut w, report) = reopen(dir.path());
    assert_eq!((report.records, report.acked), (2, 0));
    assert_eq!(
        drain(&mut w).into_iter().map(|(_, d)| d).collect::<Vec<_>>(),
        vec![b"three".to_vec(), b"four".to_vec()]
    );
}

#[test]
fn every_ack_is_written_at_once_when_every_append_is_synced() {
    let dir = tempfile::tempdir().unwrap();
    {
        let o = WalOptions { sync_every_append: true, ..opts(1 << 20, 1 << 20, FullPolicy::Block) };
        let (mut w, _) = Wal::open(dir.path(), o).unwrap();
        for i in 0..3u8 {
            w.append(&[i; 8], 2).unwrap();
        }
        let got = drain(&mut w);
        w.ack(got[1].0).unwrap();
        // No sync: a SIGKILL now.
    }
    let (mut w, report) = reopen(dir.path());
    assert_eq!((report.records, report.items, report.acked_items), (2, 4, 2));
    assert_eq!(firsts(&drain(&mut w)), vec![0, 2]);
}

#[test]
fn drop_oldest_skips_delivered_records_when_counting_drops() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut w, got) = ten_in_one_segment(dir.path());
        w.ack(got[0].0).unwrap();
        w.sync().unwrap();
    }
    // 10 records of 32 bytes; a limit that forces the recovered segment out.
    let (mut w, report) = Wal::open(dir.path(), opts(400, 1 << 20, FullPolicy::DropOldest)).unwrap();
    assert_eq!(report.records, 9);
    let dropped = w.append(&[0; 100], 1).unwrap();
    assert_eq!((dropped.records, dropped.items), (9, 9));
    assert_eq!(w.unread(), 1);
}
