//! The bytes that start every built-in check but the secrets: digits
//! (cards, phones, IBANs, SSNs, IPv4), `@` (emails) and `:` (IPv6). One
//! vector pass finds all three kinds, instead of one pass per detector;
//! prose holds few of them, so most 32-byte blocks cost a handful of
//! instructions.

/// Whether `c` is a digit, `:` or `@`.
#[inline]
pub(crate) fn is_trigger(c: u8) -> bool {
    matches!(c, b'0'..=b':' | b'@')
}

/// Calls `f(i)` for the triggers `b[i]`, in increasing order. `f` returns
/// where the search goes on (more than `i`): the triggers before it are
/// skipped, so a number or word read whole is not visited digit by digit.
#[inline]
pub(crate) fn for_each(b: &[u8], mut f: impl FnMut(usize) -> usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if b.len() >= 32 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            unsafe { x86::avx2(b, &mut f) };
            return;
        }
        if b.len() >= 16 {
            x86::sse2(b, &mut f);
            return;
        }
    }
    scalar(b, 0, &mut f);
}

/// Whether `b` holds any trigger byte. Built for the short values (keys,
/// names, ids) it is asked about: eight bytes at a time, with overlapping
/// reads instead of a byte loop at the end.
#[inline]
pub(crate) fn any(b: &[u8]) -> bool {
    let n = b.len();
    let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("eight bytes"));
    let half = |i: usize| u64::from(u32::from_le_bytes(b[i..i + 4].try_into().expect("four bytes")));
    match n {
        0 => false,
        // Bytes 0, n/2 and n-1 are every byte; the zero padding is no trigger.
        1..=3 => swar(u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16),
        4..=7 => swar(half(0) | half(n - 4) << 32),
        _ => {
            let mut i = 0;
            while i + 8 < n {
                if swar(word(i)) {
                    return true;
                }
                i += 8;
            }
            swar(word(n - 8))
        }
    }
}

/// Whether any of the eight bytes in `x` is a trigger. Each byte is tested
/// on its own (no carry or borrow crosses bytes), so the answer is exact.
#[inline(always)]
fn swar(x: u64) -> bool {
    const L: u64 = 0x0101_0101_0101_0101;
    let ascii = !x & (L * 0x80);
    let t = x & (L * 0x7f);
    // Bit 7 of each byte: t >= '0', t >= ';' and t != '@'.
    let ge_zero = t + L * (0x80 - b'0' as u64);
    let ge_semicolon = t + L * (0x80 - b';' as u64);
    let not_at = (t ^ (L * b'@' as u64)) + L * 0x7f;
    (((ge_zero & !ge_semicolon) | !not_at) & ascii) != 0
}

#[inline]
fn scalar(b: &[u8], mut i: usize, f: &mut impl FnMut(usize) -> usize) {
    while i < b.len() {
        i = if is_trigger(b[i]) { f(i) } else { i + 1 };
    }
}

/// Visits the triggers in `mask`, the block of `width` bytes at `base`.
/// Returns where the next block starts: after this one, or further on when
/// `f` skipped past it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn visit(mut mask: u32, base: usize, width: usize, f: &mut impl FnMut(usize) -> usize) -> usize {
    while mask != 0 {
        let next = f(base + mask.trailing_zeros() as usize);
        if next >= base + width {
            return next;
        }
        // `next` lies after the trigger just visited, inside this block.
        mask &= u32::MAX << (next - base);
    }
    base + width
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::visit;

    // Signed compares: bytes >= 0x80 are negative, so never triggers.
    // Digits and `:` are the contiguous range '0'..=':'.
    const LO: i8 = b'0' as i8 - 1;
    const HI: i8 = b':' as i8 + 1;
    const AT: i8 = b'@' as i8;

    /// SSE2 is in the x86_64 baseline. `b` holds at least 16 bytes; the last
    /// block overlaps the one before it and its already-seen bytes are masked.
    #[inline]
    pub(super) fn sse2(b: &[u8], f: &mut impl FnMut(usize) -> usize) {
        debug_assert!(b.len() >= 16);
        // SAFETY: SSE2 is always there, and the load reads b[i..i + 16] with i + 16 <= b.len().
        let block = |i: usize| unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            let range = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(LO)), _mm_cmplt_epi8(v, _mm_set1_epi8(HI)));
            _mm_movemask_epi8(_mm_or_si128(range, _mm_cmpeq_epi8(v, _mm_set1_epi8(AT)))) as u32
        };
        let mut i = 0;
        while i + 16 <= b.len() {
            i = visit(block(i), i, 16, f);
        }
        if i < b.len() {
            let last = b.len() - 16;
            let seen = (i - last) as u32;
            visit(block(last) >> seen << seen, last, 16, f);
        }
    }

    /// The trigger mask of the 32 bytes at `p`.
    macro_rules! block256 {
        ($p:expr) => {{
            let v = _mm256_loadu_si256($p as *const __m256i);
            let range = _mm256_and_si256(
                _mm256_cmpgt_epi8(v, _mm256_set1_epi8(LO)),
                _mm256_cmpgt_epi8(_mm256_set1_epi8(HI), v),
            );
            _mm256_movemask_epi8(_mm256_or_si256(range, _mm256_cmpeq_epi8(v, _mm256_set1_epi8(AT)))) as u32
        }};
    }

    /// As [`sse2`], 32 bytes at a time. `b` holds at least 32 bytes.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(b: &[u8], f: &mut impl FnMut(usize) -> usize) {
        debug_assert!(b.len() >= 32);
        let mut i = 0;
        while i + 32 <= b.len() {
            // SAFETY: reads b[i..i + 32], in bounds by the loop condition.
            let m = unsafe { block256!(b.as_ptr().add(i)) };
            i = visit(m, i, 32, f);
        }
        if i < b.len() {
            let last = b.len() - 32;
            let seen = (i - last) as u32;
            // SAFETY: reads b[last..], 32 bytes.
            let m = unsafe { block256!(b.as_ptr().add(last)) };
            visit(m >> seen << seen, last, 32, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `for_each` must visit: each trigger at or after the last resume point.
    fn expected(s: &[u8], skip: impl Fn(usize) -> usize) -> Vec<usize> {
        let mut want = Vec::new();
        let mut i = 0;
        while i < s.len() {
            if is_trigger(s[i]) {
                want.push(i);
                i = skip(i);
            } else {
                i += 1;
            }
        }
        want
    }

    #[test]
    fn agrees_with_a_byte_loop() {
        // Every byte value, at every length around the 16- and 32-byte steps,
        // visiting every trigger or jumping ahead by up to 40 bytes.
        let bytes: Vec<u8> = (0..=255u8).chain(b"abc/:9@;?".iter().copied()).rev().collect();
        for jump in [1, 2, 5, 15, 16, 17, 31, 32, 33, 40] {
            let skip = |i: usize| i + jump;
            for len in 0..bytes.len() {
                let s = &bytes[..len];
                let want = expected(s, skip);
                let mut got = Vec::new();
                for_each(s, |i| {
                    got.push(i);
                    skip(i)
                });
                assert_eq!(got, want, "len {len} jump {jump}");
                assert_eq!(any(s), s.iter().any(|&c| is_trigger(c)), "len {len}");
                #[cfg(target_arch = "x86_64")]
                if len >= 16 {
                    let mut sse = Vec::new();
                    x86::sse2(s, &mut |i| {
                        sse.push(i);
                        skip(i)
                    });
                    assert_eq!(sse, want, "sse2, len {len} jump {jump}");
                }
            }
        }
    }

    #[test]
    fn any_finds_each_byte_in_every_position() {
        for len in 1..=24 {
            for at in 0..len {
                for c in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = c;
                    assert_eq!(any(&s), is_trigger(c), "byte {c:#x} at {at} of {len}");
                }
            }
        }
    }
}
