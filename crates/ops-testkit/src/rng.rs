//! A small deterministic generator for seeded test cases (the same cases on every run and
//! machine, so a failure reproduces): a 64-bit LCG with Knuth's MMIX constants, the high bits
//! returned.

/// A seeded linear congruential generator.
///
/// ```
/// let mut a = ops_testkit::rng::Lcg::new(7);
/// let mut b = ops_testkit::rng::Lcg::new(7);
/// assert_eq!((a.next_u64(), a.below(10)), (b.next_u64(), b.below(10)));
/// assert!(a.below(10) < 10);
/// ```
#[derive(Debug, Clone)]
pub struct Lcg(u64);

impl Lcg {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Lcg {
        Lcg(seed)
    }

    /// The next value: 31 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    /// A value in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `true` with the given percent chance.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[usize::try_from(self.below(items.len() as u64)).unwrap_or(0)]
    }
}
