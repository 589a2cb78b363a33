//! A segmented write-ahead log of encoded batches. Records are appended to
//! the newest segment and read in order by the consumers; a segment file
//! is deleted once every record in it has been acknowledged.
//!
//! Acks of a segment that is not yet fully delivered go to its sidecar
//! (`ack_log`), written on every `sync` (the fsync interval) without an
//! fsync of their own: a SIGKILL keeps them, so a restart skips what was
//! delivered; anything lost (a power cut, a torn entry) is sent again.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::ack_log;
use super::config::FullPolicy;
use super::record::{self, HEADER};

/// Ack entries a segment buffers before they are written without waiting for `sync`.
const FLUSH_ACKS: usize = 1024;

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

/// Deletes a file that may never have been created.
fn remove_if_exists(path: &Path) -> Result<(), WalError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WalOptions {
    pub max_bytes: u64,
    /// A segment is rolled over once it would grow past this.
    pub segment_bytes: u64,
    pub policy: FullPolicy,
    /// Fsync after every append (and write every ack) instead of on `sync`.
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
    /// Records (and their items) to be sent again.
    pub records: u64,
    pub items: u64,
    /// Records the ack sidecars show as delivered before the stop: not sent again.
    pub acked: u64,
    pub acked_items: u64,
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

/// Names one record handed out by `next_record`, for its `ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordId {
    pub segment: u64,
    pub index: u32,
    pub crc: u32,
}

pub struct Record {
    pub id: RecordId,
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
    /// Index and offset of the next record to look at.
    read: u64,
    read_pos: u64,
    /// Records still to hand out: unread, and not delivered before a restart.
    unread: u64,
    unread_items: u64,
    /// Recovered segments only: the records the sidecar shows as delivered.
    delivered: Vec<bool>,
    ack_path: PathBuf,
    /// Opened on the first write.
    ack_file: Option<File>,
    /// Entries not yet written to the sidecar.
    pending_acks: Vec<u8>,
}

impl Segment {
    fn new(id: u64, path: PathBuf, ack_path: PathBuf, file: File) -> Self {
        Segment {
            id,
            path,
            file,
            len: 0,
            records: 0,
            acked: 0,
            read: 0,
            read_pos: 0,
            unread: 0,
            unread_items: 0,
            delivered: Vec::new(),
            ack_path,
            ack_file: None,
            pending_acks: Vec::new(),
        }
    }

    fn flush_acks(&mut self) -> Result<(), WalError> {
        if self.pending_acks.is_empty() {
            return Ok(());
        }
        // Dropped on error too: what is not written is only sent twice.
        let buf = std::mem::take(&mut self.pending_acks);
        if self.ack_file.is_none() {
            let f = OpenOptions::new().create(true).append(true).open(&self.ack_path).map_err(io(&self.ack_path))?;
            self.ack_file = Some(f);
        }
        let f = self.ack_file.as_mut().expect("opened above");
        f.write_all(&buf).map_err(io(&self.ack_path))
    }

    /// Deletes the log file first: a crash in between leaves an orphan
    /// sidecar, which `open` removes, never records without their acks.
    fn delete(self) -> Result<(), WalError> {
        fs::remove_file(&self.path).map_err(io(&self.path))?;
        remove_if_exists(&self.ack_path)
    }
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
        let (mut ids, mut ack_ids) = (Vec::new(), Vec::new());
        for entry in fs::read_dir(dir).map_err(io(dir))? {
            let name = entry.map_err(io(dir))?.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name.strip_suffix(".wal").and_then(|s| s.parse::<u64>().ok()) {
                ids.push(id);
            } else if let Some(id) = name.strip_suffix(".ack").and_then(|s| s.parse::<u64>().ok()) {
                ack_ids.push(id);
            }
        }
        ids.sort_unstable();
        let mut wal =
            Wal { dir: dir.to_path_buf(), opts, segments: VecDeque::new(), total_bytes: 0, unread: 0, dirty: false };
        // A crash between deleting a segment and its sidecar.
        for id in ack_ids.iter().filter(|id| ids.binary_search(id).is_err()) {
            remove_if_exists(&wal.ack_path(*id))?;
        }
        let mut report = OpenReport::default();
        for id in &ids {
            let seg = wal.recover(*id, &mut report)?;
            if seg.unread == 0 {
                seg.delete()?;
                continue;
            }
            wal.total_bytes += seg.len;
            wal.unread += seg.unread;
            wal.segments.push_back(seg);
        }
        // Never append after a possibly torn tail: start a fresh segment.
        wal.new_segment(ids.last().map_or(0, |i| i + 1))?;
        Ok((wal, report))
    }

    fn segment_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.wal"))
    }

    fn ack_path(&self, id: u64) -> PathBuf {
        self.dir.join(format!("{id:020}.ack"))
    }

    /// Scans one segment, truncating it at the first record that fails its
    /// checksum, then applies its sidecar.
    fn recover(&self, id: u64, report: &mut OpenReport) -> Result<Segment, WalError> {
        let path = self.segment_path(id);
        let bytes = fs::read(&path).map_err(io(&path))?;
        let mut pos = 0usize;
        // Per record: checksum and item count.
        let mut found: Vec<(u32, u32)> = Vec::new();
        while pos < bytes.len() {
            let valid = bytes.get(pos..pos + HEADER).and_then(|h| {
                let (len, crc, n) = record::header(h.try_into().ok()?);
                let data = bytes.get(pos + HEADER..pos + HEADER + len as usize)?;
                (record::checksum(n, data) == crc).then_some((len as usize, crc, n))
            });
            let Some((len, crc, n)) = valid else {
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
            found.push((crc, n));
        }
        let file = OpenOptions::new().read(true).write(true).open(&path).map_err(io(&path))?;
        let mut seg = Segment::new(id, path, self.ack_path(id), file);
        seg.len = pos as u64;
        seg.records = found.len() as u64;
        seg.delivered = self.read_acks(&seg.ack_path, &found)?;
        let mut items = 0u64;
        for (&(_, n), &done) in found.iter().zip(&seg.delivered) {
            if done {
                seg.acked += 1;
                report.acked_items += n as u64;
            } else {
                items += n as u64;
            }
        }
        seg.unread = seg.records - seg.acked;
        seg.unread_items = items;
        report.acked += seg.acked;
        report.records += seg.unread;
        report.items += items;
        Ok(seg)
    }

    /// Which of `records` (checksum, items) the sidecar at `path` marks delivered.
    /// A torn or corrupt tail is cut off so that later entries stay readable.
    fn read_acks(&self, path: &Path, records: &[(u32, u32)]) -> Result<Vec<bool>, WalError> {
        let mut delivered = vec![false; records.len()];
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(delivered),
            Err(e) => return Err(io(path)(e)),
        };
        let (entries, valid) = ack_log::parse(&bytes);
        if valid < bytes.len() {
            tracing::warn!(sidecar = %path.display(), offset = valid, bytes = bytes.len() - valid,
                "persistent queue: torn or corrupt ack entry; the records it covered are sent again");
            let f = OpenOptions::new().write(true).open(path).map_err(io(path))?;
            f.set_len(valid as u64).map_err(io(path))?;
        }
        for (index, crc) in entries {
            if records.get(index as usize).is_some_and(|r| r.0 == crc) {
                delivered[index as usize] = true;
            }
        }
        Ok(delivered)
    }

    fn new_segment(&mut self, id: u64) -> Result<(), WalError> {
        let path = self.segment_path(id);
        let ack_path = self.ack_path(id);
        // No entry of an earlier file by this name may apply to the new one.
        remove_if_exists(&ack_path)?;
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).map_err(io(&path))?;
        // The new name must survive a crash too.
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io(&self.dir))?;
        self.segments.push_back(Segment::new(id, path, ack_path, file));
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
            dropped.records += old.unread;
            dropped.items += old.unread_items;
            self.unread -= old.unread;
            self.total_bytes -= old.len;
            old.delete()?;
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
        seg.unread += 1;
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
            prev.delete()?;
        }
        Ok(())
    }

    /// The oldest record not yet handed out, if any.
    pub fn next_record(&mut self) -> Result<Option<Record>, WalError> {
        let Some(i) = self.segments.iter().position(|s| s.unread > 0) else {
            return Ok(None);
        };
        let seg = &mut self.segments[i];
        // Records delivered before a restart are stepped over by their headers.
        let read = loop {
            let mut h = [0u8; HEADER];
            let (len, crc, n) = match seg.file.read_exact_at(&mut h, seg.read_pos) {
                Ok(()) => record::header(&h),
                Err(e) => break Err(e),
            };
            if seg.delivered.get(seg.read as usize).copied().unwrap_or(false) {
                seg.read += 1;
                seg.read_pos += (HEADER + len as usize) as u64;
                continue;
            }
            let mut data = vec![0u8; len as usize];
            break seg.file.read_exact_at(&mut data, seg.read_pos + HEADER as u64).map(|_| (data, crc, n));
        };
        match read {
            Ok((data, crc, n)) if record::checksum(n, &data) == crc => {
                let index = seg.read as u32;
                seg.read_pos += (HEADER + data.len()) as u64;
                seg.read += 1;
                seg.unread -= 1;
                seg.unread_items = seg.unread_items.saturating_sub(n as u64);
                self.unread -= 1;
                Ok(Some(Record { id: RecordId { segment: seg.id, index, crc }, items: n, data }))
            }
            // Changed on disk since it was written or scanned: skip the rest
            // of the segment, which then counts as acknowledged.
            _ => {
                let (path, offset) = (seg.path.clone(), seg.read_pos);
                let skipped = seg.unread;
                seg.acked += skipped;
                seg.read = seg.records;
                seg.read_pos = seg.len;
                seg.unread = 0;
                seg.unread_items = 0;
                self.unread -= skipped;
                let id = seg.id;
                self.release(id)?;
                Err(WalError::Corrupt { path, offset })
            }
        }
    }

    /// Marks one record as delivered (or given up on).
    pub fn ack(&mut self, rec: RecordId) -> Result<(), WalError> {
        // Gone already when drop_oldest deleted it while the record was in flight.
        let Some(seg) = self.segments.iter_mut().find(|s| s.id == rec.segment) else {
            return Ok(());
        };
        seg.acked += 1;
        if seg.acked < seg.records {
            // A fully delivered segment needs no entries: it is deleted or emptied below.
            seg.pending_acks.extend_from_slice(&ack_log::entry(rec.index, rec.crc));
            if self.opts.sync_every_append || seg.pending_acks.len() >= FLUSH_ACKS * ack_log::ENTRY {
                seg.flush_acks()?;
            }
        }
        self.release(rec.segment)
    }

    fn release(&mut self, segment: u64) -> Result<(), WalError> {
        let last = self.segments.len() - 1;
        if let Some(i) = self.segments.iter().position(|s| s.id == segment) {
            let s = &mut self.segments[i];
            if i != last && s.acked >= s.records {
                let s = self.segments.remove(i).expect("exists");
                self.total_bytes -= s.len;
                s.delete()?;
            } else if s.records > 0 && s.acked >= s.records {
                // The active segment is fully delivered: empty it, so a restart
                // replays nothing twice. Cheaper than a new file per batch.
                // The sidecar first: its entries must never outlive their records.
                s.pending_acks.clear();
                if let Some(f) = &s.ack_file {
                    f.set_len(0).map_err(io(&s.ack_path))?;
                }
                s.file.set_len(0).map_err(io(&s.path))?;
                self.total_bytes -= s.len;
                (s.len, s.records, s.acked, s.read, s.read_pos, s.unread, s.unread_items) = (0, 0, 0, 0, 0, 0, 0);
            }
        }
        Ok(())
    }

    /// Flushes appended records to disk, and writes the acks gathered since
    /// the last call to the sidecars (not fsynced: losing them costs only duplicates).
    pub fn sync(&mut self) -> Result<(), WalError> {
        let mut first_err = None;
        for seg in self.segments.iter_mut() {
            if let Err(e) = seg.flush_acks() {
                first_err.get_or_insert(e);
            }
        }
        if self.dirty {
            let seg = self.active();
            seg.file.sync_data().map_err(io(&seg.path))?;
            self.dirty = false;
        }
        first_err.map_or(Ok(()), Err)
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
