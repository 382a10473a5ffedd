//! The per-country fade model: exponential decay with a half-life in bins, re-brightened by every hit.
//!
//! Each country has its own intensity `I`; at every bin `I ← I·d + hits` with
//! `d = 2^(-1/half_life)`. So a country that stops attacking fades on its own
//! (halving every half-life), and one that attacks again brightens at once —
//! the per-country fading the matplotlib original's readers asked for instead of
//! a global fade.
//!
//! Colour: the position on the hot ramp is the country's intensity on a log
//! scale against the peak intensity of the video — the 99th percentile of each
//! frame's brightest country, see `state::peak` — ([`Fade::heat`]); below one attempt's worth the colour also blends back
//! into plain land ([`Fade::presence`]). The scale is the run's peak and not the
//! current frame's leader on purpose: against the current leader, a country
//! attacking alone would stay at full brightness however far it had faded.

/// Decay per bin and the colour scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fade {
    decay: f64,
    half_life: f64,
}

/// Intensities under this are dropped: invisible, and dropping them keeps the lit set small.
pub const EPSILON: f64 = 1.0 / 256.0;

impl Fade {
    /// `half_life` in bins (> 0).
    pub fn new(half_life: f64) -> Fade {
        let h = if half_life.is_finite() && half_life > 0.0 {
            half_life
        } else {
            1.0
        };
        Fade {
            decay: 0.5f64.powf(1.0 / h),
            half_life: h,
        }
    }

    pub fn half_life(&self) -> f64 {
        self.half_life
    }

    /// Weight of something `age` bins old (1 when new, ½ after one half-life).
    #[cfg(test)]
    pub fn weight(&self, age: f64) -> f64 {
        self.decay.powf(age.max(0.0))
    }

    /// Ramp position in [0, 1] of an intensity, log scale against `peak`.
    pub fn heat(intensity: f64, peak: f64) -> f64 {
        if intensity <= 0.0 {
            return 0.0;
        }
        if peak <= 1.0 {
            return 1.0;
        }
        ((1.0 + intensity).ln() / (1.0 + peak).ln()).clamp(0.0, 1.0)
    }

    /// How much of the ramp colour shows over plain land: 1 from one attempt's worth up.
    pub fn presence(intensity: f64) -> f64 {
        intensity.clamp(0.0, 1.0)
    }
}

/// Intensity of every country, stepped one bin at a time.
#[derive(Clone, Debug, Default)]
pub struct Intensities {
    /// Indexed by country id; 0 where unlit.
    values: Vec<f64>,
    /// Ids with a non-zero value, so a step costs the lit countries, not all.
    lit: Vec<u16>,
}

impl Intensities {
    pub fn new() -> Intensities {
        Intensities::default()
    }

    /// Advances one bin: every intensity decays, then each `(country, attempts)` hit adds to its own.
    pub fn step(&mut self, fade: &Fade, hits: &[(u16, u32)]) {
        let d = fade.decay;
        let values = &mut self.values;
        self.lit.retain(|&id| {
            let v = &mut values[usize::from(id)];
            *v *= d;
            if *v < EPSILON {
                *v = 0.0;
                false
            } else {
                true
            }
        });
        for &(id, n) in hits {
            let i = usize::from(id);
            if i >= self.values.len() {
                self.values.resize(i + 1, 0.0);
            }
            if self.values[i] == 0.0 && n > 0 {
                self.lit.push(id);
            }
            self.values[i] += f64::from(n);
        }
    }

    pub fn get(&self, id: u16) -> f64 {
        self.values.get(usize::from(id)).copied().unwrap_or(0.0)
    }

    /// Lit countries and their intensities, in no particular order.
    pub fn lit(&self) -> impl Iterator<Item = (u16, f64)> + '_ {
        self.lit
            .iter()
            .map(|&id| (id, self.values[usize::from(id)]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_every_half_life() {
        for h in [1.0, 2.5, 5.0, 60.0] {
            let f = Fade::new(h);
            let mut it = Intensities::new();
            it.step(&f, &[(0, 1000)]);
            let steps = (h * 4.0).round() as usize;
            for _ in 0..steps {
                it.step(&f, &[]);
            }
            let expect = 1000.0 * 0.5f64.powf(steps as f64 / h);
            assert!(
                (it.get(0) - expect).abs() < 1e-6 * 1000.0,
                "h={h}: {} vs {expect}",
                it.get(0)
            );
            assert!((f.weight(h) - 0.5).abs() < 1e-12);
        }
        // Exactly half after 5 bins with the default half-life of 5.
        let f = Fade::new(5.0);
        let mut it = Intensities::new();
        it.step(&f, &[(3, 64)]);
        for _ in 0..5 {
            it.step(&f, &[]);
        }
        assert!((it.get(3) - 32.0).abs() < 1e-9);
    }

    #[test]
    fn rebrightens_on_every_hit() {
        let f = Fade::new(5.0);
        let mut it = Intensities::new();
        it.step(&f, &[(0, 10)]);
        for _ in 0..10 {
            it.step(&f, &[]);
        }
        let faded = it.get(0);
        assert!(faded < 3.0);
        it.step(&f, &[(0, 10)]);
        // The new hit adds in full on top of what was left.
        assert!((it.get(0) - (faded * f.decay + 10.0)).abs() < 1e-9);
        assert!(it.get(0) > 10.0);
        // Colour follows: brighter after the hit than before it.
        assert!(Fade::heat(it.get(0), 100.0) > Fade::heat(faded, 100.0));
    }

    #[test]
    fn each_country_fades_on_its_own() {
        let f = Fade::new(2.0);
        let mut it = Intensities::new();
        it.step(&f, &[(0, 8), (1, 8)]);
        it.step(&f, &[(1, 8)]);
        it.step(&f, &[]);
        assert!((it.get(0) - 8.0 * 0.5).abs() < 1e-9);
        assert!(it.get(1) > it.get(0));
        assert_eq!(it.get(7), 0.0);
    }

    #[test]
    fn no_hit_means_monotonic_decay_to_dark() {
        let f = Fade::new(3.0);
        let mut it = Intensities::new();
        it.step(&f, &[(0, 500), (2, 1)]);
        let peak = 500.0;
        let (mut last_v, mut last_heat, mut last_presence) =
            (it.get(0), Fade::heat(it.get(0), peak), 1.0);
        for _ in 0..200 {
            it.step(&f, &[]);
            let v = it.get(0);
            assert!(v < last_v || v == 0.0, "{v} after {last_v}");
            let heat = Fade::heat(v, peak);
            let presence = Fade::presence(v);
            assert!(heat <= last_heat && presence <= last_presence);
            (last_v, last_heat, last_presence) = (v, heat, presence);
        }
        assert_eq!(it.get(0), 0.0, "faded out completely");
        assert_eq!(it.lit().count(), 0, "nothing left lit");
    }

    #[test]
    fn colour_scale() {
        assert_eq!(Fade::heat(0.0, 100.0), 0.0);
        assert_eq!(Fade::heat(100.0, 100.0), 1.0);
        assert!(Fade::heat(10.0, 100.0) > 0.4 && Fade::heat(10.0, 100.0) < 0.6);
        assert_eq!(Fade::presence(0.5), 0.5);
        assert_eq!(Fade::presence(3.0), 1.0);
    }
}
