//! A segmented write-ahead log of encoded batches. Records are appended to
//! the newest segment and read in order by the consumers; a segment file
//! is deleted once every record in it has been acknowledged. Acks are not
//! written to disk: after a restart every record of a surviving segment is
//! sent again (at-least-once; duplicates are bounded by a segment's size).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::config::FullPolicy;
use super::record::{self, HEADER};

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("persistent queue is full ({max} bytes), retry later")]
    Full { max: u64 },
    #[error("a batch of {0} bytes is larger than the persistent queue's max size")]
    TooLarge(usize),
    #[error("{}: corrupt record at offset {offset}; rest of the segment skipped", path.display())]
    Corrupt { path: PathBuf, offset: u64 },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |source| WalError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone, Copy)]
pub struct WalOptions {
    pub max_bytes: u64,
    /// A segment is rolled over once it would grow past this.
    pub segment_bytes: u64,
    pub policy: FullPolicy,
    /// Fsync after every append instead of on `sync`.
    pub sync_every_append: bool,
}

impl WalOptions {
    /// Segments of an eighth of the limit, within [64 KiB, 8 MiB]: small
    /// enough that drop_oldest and restarts replay little twice.
    pub fn new(max_bytes: u64, policy: FullPolicy, sync_every_append: bool) -> Self {
        let segment_bytes = (max_bytes / 8).clamp(64 << 10, 8 << 20);
        Self { max_bytes, segment_bytes, policy, sync_every_append }
    }
}

/// What opening found on disk.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OpenReport {
    pub records: u64,
    pub items: u64,
    /// Torn or corrupt records found; each cut its segment short.
    pub corrupt: u64,
    pub truncated_bytes: u64,
}

/// Unread records an append deleted to make room (drop_oldest).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Dropped {
    pub records: u64,
    pub items: u64,
}

pub struct Record {
    pub segment: u64,
    pub items: u32,
    pub data: Vec<u8>,
}

struct Segment {
    id: u64,
    path: PathBuf,
    file: File,
    len: u64,
    records: u64,
    acked: u64,
    read: u64,
    read_pos: u64,
    unread_items: u64,
}

pub struct Wal {
    dir: PathBuf,
    opts: WalOptions,
    /// Oldest first; the last one is the one appended to.
    segments: VecDeque<Segment>,
    total_bytes: u64,
    unread: u64,
    dirty: bool,
}

impl Wal {
    pub fn open(dir: &Path, opts: WalOptions) -> Result<(Wal, OpenReport), WalError> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut ids = Vec::new();
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let name = entry.map_err(io(dir))?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name.strip_suffix(".wal").and_then(|s| s.parse::<u64>().ok()) {
                ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut wal =
            Wal { dir: dir.to_path_buf(), opts, segments: VecDeque::new(), total_bytes: 0, unread: 0, dirty: false };
        let mut report = OpenReport::default();
        for id in &ids {
            let seg = wal.recover(*id, &mut report)?;
            if seg.records == 0 {
                fs::remove_file(&seg.path).map_err(io(&seg.path))?;
                continue;
            }
            wal.total_bytes += seg.len;
            wal.unread += seg.records;
            wal.segments.push_back(seg);
        }
        // Never append after a possibly torn tail: start a fresh segment.
        wal.new_segment(ids.last().map_or(0, |i| i + 1))?;
        Ok((wal, report))
    }

    fn segment_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.wal"))
    }

    /// Scans one segment, truncating it at the first record that fails its checksum.
    fn recover(&self, id: u64, report: &mut OpenReport) -> Result<Segment, WalError> {
        let path = self.segment_path(id);
        let bytes = fs::read(&path).map_err(io(&path))?;
        let (mut pos, mut records, mut items) = (0usize, 0u64, 0u64);
        while pos < bytes.len() {
            let valid = bytes.get(pos..pos + HEADER).and_then(|h| {
                let (len, crc, n) = record::header(h.try_into().ok()?);
                let data = bytes.get(pos + HEADER..pos + HEADER + len as usize)?;
                (record::checksum(n, data) == crc).then_some((len as usize, n))
            });
            let Some((len, n)) = valid else {
                let cut = (bytes.len() - pos) as u64;
                tracing::warn!(segment = %path.display(), offset = pos, bytes = cut,
                    "persistent queue: torn or corrupt record; truncating the segment there");
                report.corrupt += 1;
                report.truncated_bytes += cut;
                let f = OpenOptions::new().write(true).open(&path).map_err(io(&path))?;
                f.set_len(pos as u64).and_then(|_| f.sync_all()).map_err(io(&path))?;
                break;
            };
            pos += HEADER + len;
            records += 1;
            items += n as u64;
        }
        report.records += records;
        report.items += items;
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io(&path))?;
        Ok(Segment { id, path, file, len: pos as u64, records, acked: 0, read: 0, read_pos: 0, unread_items: items })
    }

    fn new_segment(&mut self, id: u64) -> Result<(), WalError> {
        let path = self.segment_path(id);
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).map_err(io(&path))?;
        // The new name must survive a crash too.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        self.segments.push_back(Segment {
            id,
            path,
            file,
            len: 0,
            records: 0,
            acked: 0,
            read: 0,
            read_pos: 0,
            unread_items: 0,
        });
        Ok(())
    }

    fn active(&mut self) -> &mut Segment {
        self.segments.back_mut().expect("the WAL always has an active segment")
    }

    /// Appends one encoded batch of `items` items.
    pub fn append(&mut self, data: &[u8], items: u32) -> Result<Dropped, WalError> {
        let need = (HEADER + data.len()) as u64;
        if need > self.opts.max_bytes {
            return Err(WalError::TooLarge(data.len()));
        }
        let mut dropped = Dropped::default();
        while self.total_bytes + need > self.opts.max_bytes {
            if self.opts.policy == FullPolicy::Block {
                return Err(WalError::Full { max: self.opts.max_bytes });
            }
            if self.segments.len() == 1 {
                self.roll()?;
                continue;
            }
            let old = self.segments.pop_front().expect("more than one segment");
            dropped.records += old.records - old.read;
            dropped.items += old.unread_items;
            self.unread -= old.records - old.read;
            self.total_bytes -= old.len;
            fs::remove_file(&old.path).map_err(io(&old.path))?;
        }
        let seg_max = self.opts.segment_bytes;
        if self.active().len > 0 && self.active().len + need > seg_max {
            self.roll()?;
        }
        let buf = record::frame(data, items);
        let seg = self.active();
        seg.file.write_all_at(&buf, seg.len).map_err(io(&seg.path))?;
        seg.len += need;
        seg.records += 1;
        seg.unread_items += items as u64;
        self.total_bytes += need;
        self.unread += 1;
        self.dirty = true;
        if self.opts.sync_every_append {
            self.sync()?;
        }
        Ok(dropped)
    }

    /// Closes the active segment and starts the next one.
    fn roll(&mut self) -> Result<(), WalError> {
        self.sync()?;
        let id = self.active().id + 1;
        self.new_segment(id)?;
        let n = self.segments.len();
        let prev = &self.segments[n - 2];
        if prev.acked == prev.records {
            let prev = self.segments.remove(n - 2).expect("exists");
            self.total_bytes -= prev.len;
            fs::remove_file(&prev.path).map_err(io(&prev.path))?;
        }
        Ok(())
    }

    /// The oldest record not yet handed out, if any.
    pub fn next_record(&mut self) -> Result<Option<Record>, WalError> {
        let Some(seg) = self.segments.iter_mut().find(|s| s.read < s.records) else {
            return Ok(None);
        };
        let mut h = [0u8; HEADER];
        let read =
            seg.file.read_exact_at(&mut h, seg.read_pos).map(|_| record::header(&h)).and_then(|(len, crc, n)| {
                let mut data = vec![0u8; len as usize];
                seg.file.read_exact_at(&mut data, seg.read_pos + HEADER as u64)?;
                Ok((data, crc, n))
            });
        match read {
            Ok((data, crc, n)) if record::checksum(n, &data) == crc => {
                seg.read_pos += (HEADER + data.len()) as u64;
                seg.read += 1;
                seg.unread_items = seg.unread_items.saturating_sub(n as u64);
                self.unread -= 1;
                Ok(Some(Record { segment: seg.id, items: n, data }))
            }
            // Changed on disk since it was written or scanned: skip the rest
            // of the segment, which then counts as acknowledged.
            _ => {
                let (path, offset) = (seg.path.clone(), seg.read_pos);
                let skipped = seg.records - seg.read;
                seg.acked += skipped;
                seg.read = seg.records;
                seg.read_pos = seg.len;
                seg.unread_items = 0;
                self.unread -= skipped;
                let id = seg.id;
                self.release(id)?;
                Err(WalError::Corrupt { path, offset })
            }
        }
    }

    /// Marks one record of `segment` as delivered (or given up on).
    pub fn ack(&mut self, segment: u64) -> Result<(), WalError> {
        // Gone already when drop_oldest deleted it while the record was in flight.
        if let Some(seg) = self.segments.iter_mut().find(|s| s.id == segment) {
            seg.acked += 1;
            self.release(segment)?;
        }
        Ok(())
    }

    fn release(&mut self, segment: u64) -> Result<(), WalError> {
        let last = self.segments.len() - 1;
        if let Some(i) = self.segments.iter().position(|s| s.id == segment) {
            let s = &mut self.segments[i];
            if i != last && s.acked >= s.records {
                let s = self.segments.remove(i).expect("exists");
                self.total_bytes -= s.len;
                fs::remove_file(&s.path).map_err(io(&s.path))?;
            } else if s.records > 0 && s.acked >= s.records {
                // The active segment is fully delivered: empty it, so a restart
                // replays nothing twice. Cheaper than a new file per batch.
                s.file.set_len(0).map_err(io(&s.path))?;
                self.total_bytes -= s.len;
                (s.len, s.records, s.acked, s.read, s.read_pos, s.unread_items) = (0, 0, 0, 0, 0, 0);
            }
        }
        Ok(())
    }

    /// Flushes appended records to disk.
    pub fn sync(&mut self) -> Result<(), WalError> {
        if self.dirty {
            let seg = self.active();
            seg.file.sync_data().map_err(io(&seg.path))?;
            self.dirty = false;
        }
        Ok(())
    }

    /// Records appended and not yet handed out.
    pub fn unread(&self) -> u64 {
        self.unread
    }

    pub fn size_bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}
