//! Nagios flap detection over an alert instance's last 21 states.

/// Nagios flap detection: the last 21 states, weighted state changes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FlapHistory {
    states: u32,
    len: u8,
    /// Whether notifications are held back (entered at `high`, left at `low`).
    pub(super) flapping: bool,
}

impl FlapHistory {
    pub(super) const SIZE: u8 = 21;

    /// Records one check and returns the percent state change (Nagios `flapping.c`).
    pub(super) fn record(&mut self, breaching: bool, low: f64, high: f64) -> f64 {
        self.states = ((self.states << 1) | u32::from(breaching)) & ((1 << Self::SIZE) - 1);
        self.len = (self.len + 1).min(Self::SIZE);
        if self.len < Self::SIZE {
            return 0.0;
        }
        // Oldest first: x = 1..=20 over the 20 transitions; weight 0.75 + (x−1)·0.5/19.
        let mut pct = 0.0;
        for x in 1..=20u32 {
            let older = (self.states >> (21 - x)) & 1;
            let newer = (self.states >> (20 - x)) & 1;
            if older != newer {
                pct += 0.75 + f64::from(x - 1) * (0.5 / 19.0);
            }
        }
        let pct = pct * 100.0 / 20.0;
        if !self.flapping && pct >= high {
            self.flapping = true;
        } else if self.flapping && pct <= low {
            self.flapping = false;
        }
        pct
    }
}
