//! XOR masking of client payloads, word at a time.

/// XORs `buf` with `mask`, as if `buf` started `offset` bytes into the masked payload.
/// Returns the mask offset for the byte after `buf`.
#[inline]
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) -> usize {
    // A server's frames are not masked: the reader keeps a zero key for them, a no-op
    // not worth a call or a pass over the payload.
    if mask == [0; 4] {
        return (offset + buf.len()) & 3;
    }
    xor_words(buf, mask, offset)
}

fn xor_words(buf: &mut [u8], mask: [u8; 4], offset: usize) -> usize {
    let mut m = mask;
    m.rotate_left(offset & 3);
    let (head, words, tail) = unsafe { buf.align_to_mut::<u64>() };
    for (i, b) in head.iter_mut().enumerate() {
        *b ^= m[i & 3];
    }
    // The words start `head.len()` bytes in: rotate so byte 0 of each word gets the right key.
    let mut wm = m;
    wm.rotate_left(head.len() & 3);
    let w32 = u32::from_ne_bytes(wm) as u64;
    let word_mask = w32 | (w32 << 32);
    for w in words.iter_mut() {
        *w ^= word_mask;
    }
    let start = head.len() + words.len() * 8;
    for (i, b) in tail.iter_mut().enumerate() {
        *b ^= m[(start + i) & 3];
    }
    (offset + buf.len()) & 3
}

/// Byte-wise reference implementation, used to check the fast one.
pub fn apply_mask_bytewise(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_bytewise_at_every_alignment_and_offset() {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for start in 0..16 {
            for len in [0, 1, 3, 7, 8, 9, 31, 64, 100, 150] {
                for offset in 0..4 {
                    let mut a = data.clone();
                    let mut b = data.clone();
                    let next = apply_mask(&mut a[start..start + len], mask, offset);
                    apply_mask_bytewise(&mut b[start..start + len], mask, offset);
                    assert_eq!(a, b, "start {start} len {len} offset {offset}");
                    assert_eq!(next, (offset + len) & 3);
                }
            }
        }
    }

    #[test]
    fn split_masking_equals_whole() {
        let mask = [1, 2, 3, 4];
        let data: Vec<u8> = (0..50u8).collect();
        let mut whole = data.clone();
        apply_mask(&mut whole, mask, 0);
        let mut parts = data.clone();
        let off = apply_mask(&mut parts[..13], mask, 0);
        apply_mask(&mut parts[13..], mask, off);
        assert_eq!(whole, parts);
    }
}
