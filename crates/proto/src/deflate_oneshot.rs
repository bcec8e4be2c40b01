//! A one-shot deflate encoder for messages compressed without context
//! takeover: the whole message is at hand and no history is kept, so the
//! encoder needs no streaming state and clears only tables sized to the
//! message. zlib-rs, reset per message, clears its 128 KB hash table every
//! time (~5 µs, a sixth of a 1 KiB message's compression) whatever the
//! message's size.
//!
//! Matching follows zlib's `deflate_slow` (hash chains, lazy matching, zlib's
//! good / lazy / nice / chain for levels 4-9); the message becomes one block,
//! dynamic Huffman, fixed Huffman or stored, whichever is smallest, followed
//! by the empty stored block of a sync flush with its 4-byte tail removed
//! (RFC 7692 7.2.1). Levels 0-3 and messages over `MAX_INPUT` stay with
//! zlib-rs (see `deflate::compress_message`).

/// Larger messages go through zlib-rs: there its reset is a small part of the
/// cost, and zlib splits long inputs into blocks that fit their statistics.
pub const MAX_INPUT: usize = 16 * 1024;

const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// Bytes hashed to find match candidates: 4, as zlib-ng does (a 3-byte match is
/// seldom worth its distance, and chains of 3-byte strings in text are long).
const HASHED: usize = 4;
/// zlib drops 3-byte matches farther than this: they rarely pay for their distance.
const TOO_FAR: usize = 4096;
const END_OF_BLOCK: usize = 256;
const LIT_CODES: usize = 286;
const DIST_CODES: usize = 30;
const CL_CODES: usize = 19;
/// The order the code-length code's lengths are sent in (RFC 1951 3.2.7).
const CL_ORDER: [usize; CL_CODES] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
/// A token with this bit set is a match: length - 3 in bits 16-23, distance - 1 in bits 0-15.
const MATCH: u32 = 1 << 31;

/// zlib's parameters for its lazy levels (4-9): good_length, max_lazy, nice_length, max_chain.
fn level_params(level: u32) -> Option<(usize, usize, usize, usize)> {
    Some(match level {
        4 => (4, 4, 16, 16),
        5 => (8, 16, 32, 32),
        6 => (8, 16, 128, 128),
        7 => (8, 32, 128, 256),
        8 => (32, 128, 258, 1024),
        9 => (32, 258, 258, 4096),
        _ => return None,
    })
}

/// Whether `compress` takes a message of `len` bytes at `level`.
pub fn applies(level: u32, len: usize) -> bool {
    level_params(level).is_some() && (1..=MAX_INPUT).contains(&len)
}

/// The literal/length symbol (257-285), extra bits and their value for a match length.
fn length_code(len: usize) -> (usize, u32, u32) {
    let lc = len - MIN_MATCH;
    if lc < 8 {
        (257 + lc, 0, 0)
    } else if lc == MAX_MATCH - MIN_MATCH {
        (285, 0, 0)
    } else {
        let l = (usize::BITS - 1 - lc.leading_zeros()) as usize; // floor(log2), >= 3
        let code = 257 + 4 * (l - 1) + ((lc >> (l - 2)) & 3);
        let extra = (code - 261) / 4;
        let base = (4 + ((code - 265) & 3)) << extra;
        (code, extra as u32, (lc - base) as u32)
    }
}

/// The distance symbol (0-29), extra bits and their value for a distance.
fn dist_code(dist: usize) -> (usize, u32, u32) {
    let d = dist - 1;
    if d < 4 {
        (d, 0, 0)
    } else {
        let l = (usize::BITS - 1 - d.leading_zeros()) as usize; // >= 2
        let code = 2 * l + ((d >> (l - 1)) & 1);
        let extra = l - 1;
        let base = (2 | (code & 1)) << extra;
        (code, extra as u32, (d - base) as u32)
    }
}

/// The encoder's buffers, kept from one message to the next (a few KB).
#[derive(Default)]
pub struct OneShot {
    head: Vec<u16>,
    prev: Vec<u16>,
    tokens: Vec<u32>,
    lit_freq: Vec<u32>,
    dist_freq: Vec<u32>,
}

struct Bits<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits<'_> {
    #[inline(always)]
    fn put(&mut self, value: u32, bits: u32) {
        self.acc |= (value as u64) << self.n;
        self.n += bits;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Writes out the last bits, zero-padded to a byte.
    fn finish(mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
    }
}

/// A Huffman code: bit length and bit-reversed code per symbol (deflate sends codes
/// most significant bit first into an LSB-first stream).
struct Code {
    len: [u8; 288],
    code: [u16; 288],
}

impl Code {
    /// Optimal lengths for `freq` under `max_len` (minimum-redundancy lengths by the
    /// in-place Moffat-Katajainen method over the sorted frequencies, then lengthened
    /// to fit `max_len` while keeping Kraft's sum, as miniz does), and canonical codes.
    /// At least two symbols get a code, as zlib ensures: inflaters may refuse a
    /// distance code of one symbol.
    fn build(freq: &[u32], max_len: usize) -> Code {
        // frequency << 9 | symbol, sorted: by frequency, then symbol
        let mut used = [0u32; 288];
        let mut n = 0;
        for (s, &f) in freq.iter().enumerate() {
            if f > 0 {
                used[n] = f << 9 | s as u32;
                n += 1;
            }
        }
        let mut s = 0;
        while n < 2 {
            if freq[s] == 0 {
                used[n] = 1 << 9 | s as u32;
                n += 1;
            }
            s += 1;
        }
        let used = &mut used[..n];
        used.sort_unstable();
        let mut a = [0u32; 288];
        for (a, &u) in a.iter_mut().zip(used.iter()) {
            *a = u >> 9;
        }
        minimum_redundancy(&mut a[..n]);
        let mut count = [0u32; 64];
        for &l in &a[..n] {
            count[(l as usize).min(63)] += 1;
        }
        for l in max_len + 1..64 {
            count[max_len] += count[l];
            count[l] = 0;
        }
        let mut kraft: u64 = (1..=max_len).map(|l| (count[l] as u64) << (max_len - l)).sum();
        while kraft > 1 << max_len {
            count[max_len] -= 1;
            for l in (1..max_len).rev() {
                if count[l] > 0 {
                    count[l] -= 1;
                    count[l + 1] += 2;
                    break;
                }
            }
            kraft -= 1;
        }
        let mut code = Code { len: [0; 288], code: [0; 288] };
        let mut j = n;
        for (l, &c) in count.iter().enumerate().take(max_len + 1).skip(1) {
            for _ in 0..c {
                j -= 1;
                code.len[(used[j] & 511) as usize] = l as u8;
            }
        }
        code.assign_codes();
        code
    }

    fn fixed_literals() -> Code {
        let mut code = Code { len: [8; 288], code: [0; 288] };
        code.len[144..256].fill(9);
        code.len[256..280].fill(7);
        code.assign_codes();
        code
    }

    fn fixed_distances() -> Code {
        let mut code = Code { len: [0; 288], code: [0; 288] };
        code.len[..30].fill(5);
        code.assign_codes();
        code
    }

    /// Canonical codes for the lengths (RFC 1951 3.2.2), bit-reversed.
    fn assign_codes(&mut self) {
        let mut count = [0u16; 16];
        for &l in &self.len {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut next = [0u16; 16];
        let mut code = 0u16;
        for bits in 1..16 {
            code = (code + count[bits - 1]) << 1;
            next[bits] = code;
        }
        for (c, &l) in self.code.iter_mut().zip(&self.len) {
            if l > 0 {
                *c = next[l as usize].reverse_bits() >> (16 - l);
                next[l as usize] += 1;
            }
        }
    }

    #[inline(always)]
    fn put(&self, bits: &mut Bits<'_>, symbol: usize) {
        bits.put(self.code[symbol] as u32, self.len[symbol] as u32);
    }

    fn cost(&self, freq: &[u32]) -> u64 {
        freq.iter().zip(&self.len).map(|(&f, &l)| f as u64 * l as u64).sum()
    }
}

/// Code lengths of a minimum-redundancy code, in place: `a` holds the frequencies
/// in ascending order, then each one's code length (Moffat and Katajainen, 1995).
fn minimum_redundancy(a: &mut [u32]) {
    let n = a.len();
    if n == 0 {
        return;
    }
    if n == 1 {
        a[0] = 1;
        return;
    }
    a[0] += a[1];
    let (mut root, mut leaf) = (0usize, 2usize);
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u32;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    a[n - 2] = 0;
    for next in (0..n.saturating_sub(2)).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    let (mut avail, mut used, mut depth) = (1i64, 0i64, 0u32);
    let mut root = n as isize - 2;
    let mut next = n as isize - 1;
    while avail > 0 {
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while avail > used {
            a[next as usize] = depth;
            next -= 1;
            avail -= 1;
        }
        avail = 2 * used;
        depth += 1;
        used = 0;
    }
}

/// The code lengths of both trees as code-length symbols (RFC 1951 3.2.7: 16 repeats the
/// previous length 3-6 times, 17 and 18 give 3-10 and 11-138 zeros), each with its extra bits.
fn run_lengths(lengths: &[u8], out: &mut Vec<(u8, u8)>) {
    let mut i = 0;
    while i < lengths.len() {
        let v = lengths[i];
        let mut run = lengths[i..].iter().take_while(|&&l| l == v).count();
        i += run;
        if v == 0 {
            while run >= 11 {
                let r = run.min(138);
                out.push((18, (r - 11) as u8));
                run -= r;
            }
            if run >= 3 {
                out.push((17, (run - 3) as u8));
                run = 0;
            }
        } else {
            out.push((v, 0));
            run -= 1;
            while run >= 3 {
                let r = run.min(6);
                out.push((16, (r - 3) as u8));
                run -= r;
            }
        }
        for _ in 0..run {
            out.push((v, 0));
        }
    }
}

fn cl_extra_bits(symbol: u8) -> u32 {
    match symbol {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

#[inline(always)]
fn read_u64(d: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(d[i..i + 8].try_into().unwrap())
}

/// How many bytes from `a` and `b` (a < b) agree, up to `max` (b + max <= d.len()).
#[inline(always)]
fn match_len(d: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut l = 0;
    while l + 8 <= max {
        let x = read_u64(d, a + l) ^ read_u64(d, b + l);
        if x != 0 {
            return l + (x.trailing_zeros() / 8) as usize;
        }
        l += 8;
    }
    while l < max && d[a + l] == d[b + l] {
        l += 1;
    }
    l
}

impl OneShot {
    /// Compresses `input` (see `applies`) into `out` as permessage-deflate sends it, with
    /// matches no farther back than a window of 2^`window_bits` allows (as zlib: the
    /// window less 262 bytes).
    pub fn compress(&mut self, input: &[u8], level: u32, window_bits: u8, out: &mut Vec<u8>) {
        let (good, max_lazy, nice, max_chain) = level_params(level).expect("a level 4-9");
        assert!((1..=MAX_INPUT).contains(&input.len()) && (9..=15).contains(&window_bits));
        let max_dist = (1 << window_bits) - (MAX_MATCH + MIN_MATCH + 1);
        self.find_matches(input, max_dist, good, max_lazy, nice, max_chain);
        out.clear();
        self.write_block(input, out);
    }

    /// LZ77 as zlib's `deflate_slow` does it, into `tokens`, counting symbol frequencies.
    fn find_matches(
        &mut self,
        d: &[u8],
        max_dist: usize,
        good: usize,
        max_lazy: usize,
        nice: usize,
        max_chain: usize,
    ) {
        let n = d.len();
        // Hash of 4 bytes into 2^bits heads, 2 to 4 per byte of input (up to 32768).
        let bits = (usize::BITS - n.leading_zeros()).clamp(8, 14) + 1;
        self.head.clear();
        self.head.resize(1 << bits, 0);
        self.prev.resize(n, 0);
        self.tokens.clear();
        self.lit_freq.clear();
        self.lit_freq.resize(LIT_CODES, 0);
        self.dist_freq.clear();
        self.dist_freq.resize(DIST_CODES, 0);
        let (head, prev, tokens) = (&mut self.head[..], &mut self.prev[..], &mut self.tokens);
        let (lit_freq, dist_freq) = (&mut self.lit_freq[..], &mut self.dist_freq[..]);
        // Inserts position p (p + 4 <= n); returns the previous head of its chain, +1 (0: none).
        #[inline(always)]
        fn insert(d: &[u8], head: &mut [u16], prev: &mut [u16], bits: u32, p: usize) -> usize {
            let v = u32::from_le_bytes(d[p..p + 4].try_into().unwrap());
            let h = (v.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize;
            let first = head[h];
            prev[p] = first;
            head[h] = (p + 1) as u16;
            first as usize
        }

        let mut p = 0;
        let (mut prev_len, mut prev_dist) = (MIN_MATCH - 1, 0usize);
        let mut match_available = false;
        while p < n {
            let chain_start = if p + HASHED <= n { insert(d, head, prev, bits, p) } else { 0 };
            let (mut cur_len, mut cur_dist) = (MIN_MATCH - 1, 0usize);
            if chain_start != 0 && prev_len < max_lazy && p - (chain_start - 1) <= max_dist {
                let max_len = (n - p).min(MAX_MATCH);
                let nice = nice.min(max_len);
                let mut chain = if prev_len >= good { max_chain >> 2 } else { max_chain };
                let mut best = prev_len;
                let mut cand = chain_start - 1;
                loop {
                    if best < max_len && d[cand + best] == d[p + best] && d[cand] == d[p] {
                        let l = match_len(d, cand, p, max_len);
                        if l > best {
                            best = l;
                            cur_dist = p - cand;
                            if l >= nice {
                                break;
                            }
                        }
                    }
                    chain -= 1;
                    let next = prev[cand] as usize;
                    if chain == 0 || next == 0 || p - (next - 1) > max_dist {
                        break;
                    }
                    cand = next - 1;
                }
                cur_len = if cur_dist == 0 { prev_len } else { best };
                if cur_dist != 0 && cur_len == MIN_MATCH && cur_dist > TOO_FAR {
                    cur_len = MIN_MATCH - 1;
                }
            }
            if prev_len >= MIN_MATCH && cur_len <= prev_len {
                // The match found at p - 1 is at least as long: take it.
                let (sym, _, _) = length_code(prev_len);
                let (dsym, _, _) = dist_code(prev_dist);
                lit_freq[sym] += 1;
                dist_freq[dsym] += 1;
                tokens.push(MATCH | ((prev_len - MIN_MATCH) as u32) << 16 | (prev_dist - 1) as u32);
                let end = p - 1 + prev_len;
                for q in p + 1..end {
                    if q + HASHED <= n {
                        insert(d, head, prev, bits, q);
                    }
                }
                p = end;
                match_available = false;
                prev_len = MIN_MATCH - 1;
                continue;
            }
            if match_available {
                lit_freq[d[p - 1] as usize] += 1;
                tokens.push(d[p - 1] as u32);
            }
            match_available = true;
            prev_len = cur_len;
            prev_dist = cur_dist;
            p += 1;
        }
        if match_available {
            lit_freq[d[n - 1] as usize] += 1;
            tokens.push(d[n - 1] as u32);
        }
        lit_freq[END_OF_BLOCK] += 1;
    }

    /// The tokens as one block (BFINAL clear), then a sync flush's empty stored block
    /// without its LEN and NLEN.
    fn write_block(&self, input: &[u8], out: &mut Vec<u8>) {
        let lit = Code::build(&self.lit_freq, 15);
        let dist = Code::build(&self.dist_freq, 15);
        let n_lit = 257.max(lit.len.iter().rposition(|&l| l > 0).map_or(0, |i| i + 1));
        let n_dist = 1.max(dist.len.iter().rposition(|&l| l > 0).map_or(0, |i| i + 1));
        let mut lengths = Vec::with_capacity(n_lit + n_dist);
        lengths.extend_from_slice(&lit.len[..n_lit]);
        lengths.extend_from_slice(&dist.len[..n_dist]);
        let mut runs = Vec::with_capacity(lengths.len());
        run_lengths(&lengths, &mut runs);
        let mut cl_freq = [0u32; CL_CODES];
        for &(s, _) in &runs {
            cl_freq[s as usize] += 1;
        }
        let cl = Code::build(&cl_freq, 7);
        let n_cl = 4.max(CL_ORDER.iter().rposition(|&s| cl.len[s] > 0).map_or(0, |i| i + 1));

        // Bits each way, the 3-bit block header aside.
        let extra: u64 = (265..285).map(|s| self.lit_freq[s] as u64 * ((s - 261) / 4) as u64).sum::<u64>()
            + (4..DIST_CODES).map(|s| self.dist_freq[s] as u64 * (s / 2 - 1) as u64).sum::<u64>();
        // HLIT, HDIST and HCLEN, the code-length code, the code lengths
        let header: u64 = 14
            + 3 * n_cl as u64
            + runs.iter().map(|&(s, _)| cl.len[s as usize] as u64 + cl_extra_bits(s) as u64).sum::<u64>();
        let dynamic = header + lit.cost(&self.lit_freq) + dist.cost(&self.dist_freq) + extra;
        static FIXED: std::sync::OnceLock<(Code, Code)> = std::sync::OnceLock::new();
        let (fixed_lit, fixed_dist) = FIXED.get_or_init(|| (Code::fixed_literals(), Code::fixed_distances()));
        let fixed = fixed_lit.cost(&self.lit_freq) + fixed_dist.cost(&self.dist_freq) + extra;
        // A stored block: header padded to a byte, LEN and NLEN, the bytes.
        let stored = 8 + 32 + 8 * input.len() as u64;

        out.reserve(input.len().min((dynamic.min(fixed) / 8) as usize) + 16);
        let mut bits = Bits { out, acc: 0, n: 0 };
        if stored < dynamic.min(fixed) {
            bits.put(0, 3); // BFINAL 0, BTYPE 00
            bits.finish();
            let len = input.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(input);
            // Then the empty stored block whose tail is cut: a zero byte (its 3 header bits).
            out.push(0);
            return;
        }
        let (lit, dist) = if fixed <= dynamic {
            bits.put(0b010, 3); // BFINAL 0, BTYPE 01
            (fixed_lit, fixed_dist)
        } else {
            bits.put(0b100, 3); // BFINAL 0, BTYPE 10
            bits.put((n_lit - 257) as u32, 5);
            bits.put((n_dist - 1) as u32, 5);
            bits.put((n_cl - 4) as u32, 4);
            for &s in &CL_ORDER[..n_cl] {
                bits.put(cl.len[s] as u32, 3);
            }
            for &(s, x) in &runs {
                cl.put(&mut bits, s as usize);
                let e = cl_extra_bits(s);
                if e > 0 {
                    bits.put(x as u32, e);
                }
            }
            (&lit, &dist)
        };
        for &t in &self.tokens {
            if t & MATCH == 0 {
                lit.put(&mut bits, t as usize);
            } else {
                let len = ((t >> 16) & 0xff) as usize + MIN_MATCH;
                let d = (t & 0xffff) as usize + 1;
                let (sym, e, x) = length_code(len);
                lit.put(&mut bits, sym);
                if e > 0 {
                    bits.put(x, e);
                }
                let (dsym, e, x) = dist_code(d);
                dist.put(&mut bits, dsym);
                if e > 0 {
                    bits.put(x, e);
                }
            }
        }
        lit.put(&mut bits, END_OF_BLOCK);
        // The sync flush: an empty stored block's 3 header bits, padded to a byte; its
        // LEN and NLEN (00 00 ff ff) are the tail RFC 7692 removes.
        bits.put(0, 3);
        bits.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::{inflate_message, new_inflater};

    #[test]
    fn length_and_distance_codes() {
        assert_eq!(length_code(3), (257, 0, 0));
        assert_eq!(length_code(10), (264, 0, 0));
        assert_eq!(length_code(11), (265, 1, 0));
        assert_eq!(length_code(12), (265, 1, 1));
        assert_eq!(length_code(13), (266, 1, 0));
        assert_eq!(length_code(19), (269, 2, 0));
        assert_eq!(length_code(227), (284, 5, 0));
        assert_eq!(length_code(257), (284, 5, 30));
        assert_eq!(length_code(258), (285, 0, 0));
        assert_eq!(dist_code(1), (0, 0, 0));
        assert_eq!(dist_code(4), (3, 0, 0));
        assert_eq!(dist_code(5), (4, 1, 0));
        assert_eq!(dist_code(8), (5, 1, 1));
        assert_eq!(dist_code(24577), (29, 13, 0));
        assert_eq!(dist_code(32768), (29, 13, 8191));
    }

    /// Fibonacci frequencies make the optimal code deeper than deflate allows: the lengths
    /// are limited and still form a complete prefix code (Kraft's sum exactly 1).
    #[test]
    fn code_lengths_limited() {
        let mut freq = [0u32; 30];
        let (mut a, mut b) = (1u32, 1u32);
        for f in freq.iter_mut() {
            *f = a;
            (a, b) = (b, a + b);
        }
        for max_len in [7, 15] {
            let code = Code::build(&freq, max_len);
            let lens = &code.len[..freq.len()];
            assert!(lens.iter().all(|&l| (1..=max_len as u8).contains(&l)), "{lens:?}");
            let kraft: u64 = lens.iter().map(|&l| 1u64 << (15 - l)).sum();
            assert_eq!(kraft, 1 << 15, "{lens:?}");
            // more frequent, never longer
            assert!(lens.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
        }
        // unlimited, the same frequencies would need a 29-bit code
        let mut a: Vec<u32> = freq.to_vec();
        minimum_redundancy(&mut a);
        assert_eq!(a.iter().max(), Some(&29));
    }

    fn round_trip(input: &[u8], level: u32) -> usize {
        let mut z = Vec::new();
        OneShot::default().compress(input, level, 15, &mut z);
        let mut out = Vec::new();
        inflate_message(&mut new_inflater(), &z, &mut out, 1 << 20).unwrap();
        assert_eq!(out, input, "level {level}, {} bytes", input.len());
        z.len()
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn round_trips() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let words = ["alice", "\"id\":", "{\"event\":\"click\"}", ",", "  ", "0", "ünïcode", "\n"];
        let mut enc = OneShot::default();
        for size in (1..300).chain([1000, 1024, 4096, 10_000, MAX_INPUT]) {
            // text-like, random bytes, runs of one byte, few symbols
            let text: Vec<u8> = std::iter::repeat_with(|| words[(rng.next() % 8) as usize].as_bytes())
                .flatten()
                .copied()
                .take(size)
                .collect();
            let random: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
            let run = vec![b'a'; size];
            let two: Vec<u8> = (0..size).map(|_| b'x' + (rng.next() % 2) as u8).collect();
            for input in [&text, &random, &run, &two] {
                for level in 4..=9 {
                    round_trip(input, level);
                }
                // the same encoder from one message to the next
                let mut z = Vec::new();
                enc.compress(input, 6, 15, &mut z);
                let mut out = Vec::new();
                inflate_message(&mut new_inflater(), &z, &mut out, 1 << 20).unwrap();
                assert_eq!(&out, input);
            }
            // incompressible input goes stored: 5 bytes more than the message
            assert!(round_trip(&random, 6) <= size + 6);
        }
        assert!(round_trip(&vec![0u8; MAX_INPUT], 6) < 100);
    }

    /// Every distance stays within the window (the client may have asked for a small one).
    #[test]
    fn small_windows() {
        let mut rng = Rng(7);
        let base: Vec<u8> = (0..600).map(|_| b'a' + (rng.next() % 20) as u8).collect();
        let input: Vec<u8> = base.iter().chain(&base).chain(&base).copied().collect();
        let mut enc = OneShot::default();
        for bits in 9..=15u8 {
            let mut z = Vec::new();
            enc.compress(&input, 6, bits, &mut z);
            let max_dist = (1 << bits) - 262;
            let farthest = enc.tokens.iter().filter(|&&t| t & MATCH != 0).map(|&t| (t & 0xffff) + 1).max();
            assert!(farthest.unwrap_or(0) as usize <= max_dist, "window bits {bits}: {farthest:?}");
            let mut out = Vec::new();
            inflate_message(&mut new_inflater(), &z, &mut out, 1 << 20).unwrap();
            assert_eq!(out, input);
            // the 600-byte repeats are found once the window holds them
            assert_eq!(z.len() < 700, max_dist >= 600, "window bits {bits}: {} bytes", z.len());
        }
    }

    #[test]
    fn as_small_as_zlib_rs() {
        let agreed = crate::deflate::Agreed {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_window_bits: 15,
        };
        let mut c = crate::deflate::new_compressor(&agreed, 6);
        let mut rng = Rng(42);
        let (mut ours, mut theirs) = (0, 0);
        for _ in 0..50 {
            let mut msg = String::from("{\"records\":[");
            while msg.len() < 1000 {
                msg.push_str(&format!(
                    "{{\"id\":{},\"user\":\"u{}\",\"ts\":{},\"ok\":{}}},",
                    rng.next() % 10_000_000,
                    rng.next() % 12,
                    1_764_000_000_000u64 + rng.next() % 100_000_000,
                    rng.next().is_multiple_of(2)
                ));
            }
            ours += round_trip(msg.as_bytes(), 6);
            let mut z = Vec::new();
            c.reset();
            crate::deflate::compress_message(&mut c, msg.as_bytes(), &mut z);
            theirs += z.len();
        }
        assert!(ours * 100 <= theirs * 102, "{ours} bytes against zlib-rs's {theirs}");
    }
}
