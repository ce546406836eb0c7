//! Output buffers that a kernel fills completely, allocated without the zero fill of `vec![0; n]`.

/// A `len`-element buffer filled by `fill`, which must write every element: skips the memset of a
/// zeroed allocation (a serial pass over the whole output on the calling thread, plus its page faults).
pub fn filled_vec<T: Copy>(len: usize, fill: impl FnOnce(&mut [T])) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(len);
    // SAFETY: the spare capacity holds `len` elements; callers use plain numeric types (no invalid
    // bit patterns), and `fill` writes each element before anything reads it, so set_len exposes
    // only written values.
    unsafe {
        fill(std::slice::from_raw_parts_mut(
            v.spare_capacity_mut().as_mut_ptr().cast::<T>(),
            len,
        ));
        v.set_len(len);
    }
    v
}
