/*!
`topk`/`bottomk` selection as Prometheus 2.42 does it: Go's `container/heap` over
`vectorByValueHeap` (NaN compares lowest), so ties and NaNs pick the same series.
*/

use crate::value::Sample;

/// A heap of samples ordered as Go's `vectorByValueHeap` (`reverse == false`: the lowest on
/// top, for `topk`) or `vectorByReverseValueHeap` (the highest on top, for `bottomk`).
pub(crate) struct GoHeap {
    pub(crate) items: Vec<Sample>,
    reverse: bool,
}

impl GoHeap {
    pub(crate) fn new(first: Sample, reverse: bool, capacity: usize) -> GoHeap {
        let mut items = Vec::with_capacity(capacity.max(1));
        items.push(first);
        GoHeap { items, reverse }
    }

    fn less(&self, i: usize, j: usize) -> bool {
        let (a, b) = (self.items[i].value, self.items[j].value);
        if a.is_nan() {
            return true;
        }
        if self.reverse { a > b } else { a < b }
    }

    pub(crate) fn top(&self) -> f64 {
        self.items.first().map_or(f64::NAN, |s| s.value)
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// `heap.Push`.
    pub(crate) fn push(&mut self, s: Sample) {
        self.items.push(s);
        self.up(self.items.len() - 1);
    }

    /// `heap.Pop` (the popped sample is dropped).
    pub(crate) fn pop(&mut self) {
        let n = self.items.len() - 1;
        self.items.swap(0, n);
        self.down(0, n);
        self.items.pop();
    }

    fn up(&mut self, mut j: usize) {
        while j > 0 {
            let i = (j - 1) / 2;
            if !self.less(j, i) {
                break;
            }
            self.items.swap(i, j);
            j = i;
        }
    }

    fn down(&mut self, mut i: usize, n: usize) {
        loop {
            let j1 = 2 * i + 1;
            if j1 >= n {
                break;
            }
            let mut j = j1;
            if j1 + 1 < n && self.less(j1 + 1, j1) {
                j = j1 + 1;
            }
            if !self.less(j, i) {
                break;
            }
            self.items.swap(i, j);
            i = j;
        }
    }

    /// The selection, best first (`sort.Sort(sort.Reverse(heap))`).
    pub(crate) fn into_sorted(self) -> Vec<Sample> {
        let mut items = self.items;
        let reverse = self.reverse;
        // Reverse of Less: NaN last; descending for topk, ascending for bottomk.
        items.sort_by(|a, b| {
            let less = |x: f64, y: f64| x.is_nan() || if reverse { x > y } else { x < y };
            if less(b.value, a.value) {
                std::cmp::Ordering::Less
            } else if less(a.value, b.value) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        items
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::labels::Labels;

    fn s(i: usize, v: f64) -> Sample {
        Sample {
            labels: Labels::new([("i", i.to_string())]),
            value: v,
        }
    }

    /// Prometheus's loop for one group.
    fn topk(k: usize, values: &[f64], reverse: bool) -> Vec<(usize, f64)> {
        let mut h = GoHeap::new(s(0, values[0]), reverse, k);
        for (i, &v) in values.iter().enumerate().skip(1) {
            let better = if reverse { h.top() > v } else { h.top() < v };
            if h.len() < k || better || h.top().is_nan() {
                if h.len() == k {
                    if k == 1 {
                        h.items[0] = s(i, v);
                        continue;
                    }
                    h.pop();
                }
                h.push(s(i, v));
            }
        }
        h.into_sorted()
            .into_iter()
            .map(|x| (x.labels.get("i").unwrap().parse().unwrap(), x.value))
            .collect()
    }

    #[test]
    fn selects_as_go_does() {
        assert_eq!(topk(2, &[1.0, 5.0, 3.0, 4.0], false), [(1, 5.0), (3, 4.0)]);
        assert_eq!(topk(2, &[1.0, 5.0, 3.0, 4.0], true), [(0, 1.0), (2, 3.0)]);
        // Ties: the first seen stays (replacement needs strictly better).
        assert_eq!(topk(1, &[2.0, 2.0, 2.0], false), [(0, 2.0)]);
        // NaN on top is always replaced.
        assert_eq!(topk(1, &[f64::NAN, 1.0], false), [(1, 1.0)]);
        assert_eq!(topk(3, &[1.0, 2.0], false), [(1, 2.0), (0, 1.0)]);
    }
}
