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

/// Calls `f(i)` for every `i` where `b[i]` is a trigger, in increasing order.
#[inline]
pub(crate) fn for_each(b: &[u8], mut f: impl FnMut(usize)) {
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

/// Whether `b` holds any trigger byte.
#[inline]
pub(crate) fn any(b: &[u8]) -> bool {
    b.iter().any(|&c| is_trigger(c))
}

#[inline]
fn scalar(b: &[u8], from: usize, f: &mut impl FnMut(usize)) {
    for (i, &c) in b.iter().enumerate().skip(from) {
        if is_trigger(c) {
            f(i);
        }
    }
}

/// Calls `f` for each set bit of `mask`, as an offset from `base`.
#[inline(always)]
fn bits(mut mask: u32, base: usize, f: &mut impl FnMut(usize)) {
    while mask != 0 {
        f(base + mask.trailing_zeros() as usize);
        mask &= mask - 1;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::bits;

    // Signed compares: bytes >= 0x80 are negative, so never triggers.
    // Digits and `:` are the contiguous range '0'..=':'.
    const LO: i8 = b'0' as i8 - 1;
    const HI: i8 = b':' as i8 + 1;
    const AT: i8 = b'@' as i8;

    /// SSE2 is in the x86_64 baseline. `b` holds at least 16 bytes; the last
    /// block overlaps the one before it and its already-seen bytes are masked.
    #[inline]
    pub(super) fn sse2(b: &[u8], f: &mut impl FnMut(usize)) {
        debug_assert!(b.len() >= 16);
        // SAFETY: SSE2 is always there, and the load reads b[i..i + 16] with i + 16 <= b.len().
        let block = |i: usize| unsafe {
            let v = _mm_loadu_si128(b.as_ptr().add(i) as *const __m128i);
            let range = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(LO)), _mm_cmplt_epi8(v, _mm_set1_epi8(HI)));
            _mm_movemask_epi8(_mm_or_si128(range, _mm_cmpeq_epi8(v, _mm_set1_epi8(AT)))) as u32
        };
        let mut i = 0;
        while i + 16 <= b.len() {
            bits(block(i), i, f);
            i += 16;
        }
        if i < b.len() {
            let last = b.len() - 16;
            let seen = (i - last) as u32;
            bits(block(last) >> seen << seen, last, f);
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
    pub(super) unsafe fn avx2(b: &[u8], f: &mut impl FnMut(usize)) {
        debug_assert!(b.len() >= 32);
        let mut i = 0;
        while i + 32 <= b.len() {
            // SAFETY: reads b[i..i + 32], in bounds by the loop condition.
            let m = unsafe { block256!(b.as_ptr().add(i)) };
            bits(m, i, f);
            i += 32;
        }
        if i < b.len() {
            let last = b.len() - 32;
            let seen = (i - last) as u32;
            // SAFETY: reads b[last..], 32 bytes.
            let m = unsafe { block256!(b.as_ptr().add(last)) };
            bits(m >> seen << seen, last, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_byte_loop() {
        // Every byte value, at every length around the 16- and 32-byte steps.
        let bytes: Vec<u8> = (0..=255u8).chain(b"abc/:9@;?".iter().copied()).rev().collect();
        for len in 0..bytes.len() {
            let s = &bytes[..len];
            let want: Vec<usize> = (0..len).filter(|&i| is_trigger(s[i])).collect();
            let mut got = Vec::new();
            for_each(s, |i| got.push(i));
            assert_eq!(got, want, "len {len}");
            assert_eq!(any(s), !want.is_empty());
            #[cfg(target_arch = "x86_64")]
            if len >= 16 {
                let mut sse = Vec::new();
                x86::sse2(s, &mut |i| sse.push(i));
                assert_eq!(sse, want, "sse2, len {len}");
            }
        }
    }
}
