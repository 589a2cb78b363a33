use std::fs;
use std::io::Write;

use super::config::FullPolicy;
use super::wal::{Wal, WalError, WalOptions};

fn opts(max: u64, segment: u64, policy: FullPolicy) -> WalOptions {
    WalOptions { max_bytes: max, segment_bytes: segment, policy, sync_every_append: false }
}

fn segments(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    v.sort();
    v
}

fn drain(w: &mut Wal) -> Vec<(u64, Vec<u8>)> {
    std::iter::from_fn(|| w.next_record().unwrap()).map(|r| (r.segment, r.data)).collect()
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
        w.ack(r.segment).unwrap();
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
    w.ack(r.segment).unwrap();
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
