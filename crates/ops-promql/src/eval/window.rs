//! The points of one series inside a range selector's window, borrowed from the ring (two
//! slices when it wraps) without copying.

use crate::series::Point;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Window<'a> {
    a: &'a [Point],
    b: &'a [Point],
}

impl<'a> Window<'a> {
    pub(crate) fn new(a: &'a [Point], b: &'a [Point]) -> Window<'a> {
        if a.is_empty() {
            Window { a: b, b: &[] }
        } else {
            Window { a, b }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.a.is_empty()
    }

    /// The `i`th point (`i < len()`).
    pub(crate) fn get(&self, i: usize) -> Option<Point> {
        self.a
            .get(i)
            .or_else(|| self.b.get(i - self.a.len()))
            .copied()
    }

    pub(crate) fn first(&self) -> Option<Point> {
        self.a.first().copied()
    }

    pub(crate) fn last(&self) -> Option<Point> {
        self.b.last().or(self.a.last()).copied()
    }

    /// The two slices, in order (the second may be empty).
    pub(crate) fn slices(&self) -> [&'a [Point]; 2] {
        [self.a, self.b]
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = f64> + 'a {
        self.a.iter().chain(self.b).map(|p| p.v)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn two_slices_read_as_one() {
        let a = [Point { t: 1, v: 1.0 }];
        let b = [Point { t: 2, v: 2.0 }, Point { t: 3, v: 3.0 }];
        let w = Window::new(&a, &b);
        assert_eq!(
            (w.len(), w.first().unwrap().t, w.last().unwrap().t),
            (3, 1, 3)
        );
        assert_eq!(w.get(1).unwrap().t, 2);
        assert_eq!(w.values().sum::<f64>(), 6.0);
        let w = Window::new(&[], &b);
        assert_eq!((w.len(), w.first().unwrap().t), (2, 2));
        assert!(Window::new(&[], &[]).is_empty());
    }
}
