//! Colours: the dark and light themes and the attack ramp (log scale).

use super::scene::Color;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Theme {
    Dark,
    Light,
}

impl Theme {
    pub fn from_name(s: &str) -> Option<Theme> {
        match s.to_ascii_lowercase().as_str() {
            "dark" => Some(Theme::Dark),
            "light" => Some(Theme::Light),
            _ => None,
        }
    }

    pub fn palette(self) -> &'static Palette {
        match self {
            Theme::Dark => &DARK,
            Theme::Light => &LIGHT,
        }
    }
}

pub struct Palette {
    pub background: Color,
    pub ocean: Color,
    /// Land that sent nothing.
    pub land: Color,
    pub border: Color,
    pub text: Color,
    pub muted: Color,
    pub point: Color,
    pub point_edge: Color,
    pub home: Color,
    /// Low → high; the last stop is the busiest country's colour.
    pub ramp: &'static [Color],
    /// Slices of pie charts, then `other`.
    pub series: &'static [Color],
    pub other: Color,
}

const fn c(hex: u32) -> Color {
    Color::rgb(hex)
}

/// Black ocean, countries glowing from dark red through orange and yellow to near-white.
pub static DARK: Palette = Palette {
    background: c(0x000000),
    ocean: c(0x070b12),
    land: c(0x23272e),
    border: c(0x000000),
    text: c(0xf0f0f0),
    muted: c(0x9aa0a6),
    point: Color {
        r: 0x36,
        g: 0xd6,
        b: 0xff,
        a: 190,
    },
    point_edge: c(0x003a4d),
    home: c(0x7CFC00),
    ramp: &[
        c(0x4a0808),
        c(0xa3120f),
        c(0xe6361a),
        c(0xff8a00),
        c(0xffd23f),
        c(0xfff8e1),
    ],
    series: &[
        c(0xff6b35),
        c(0xffd23f),
        c(0x36d6ff),
        c(0xe6361a),
        c(0x9b5de5),
        c(0x2ec4b6),
        c(0xf15bb5),
        c(0x8ac926),
        c(0x4d96ff),
        c(0xffadad),
    ],
    other: c(0x5f6368),
};

/// White paper, pale blue sea, countries from cream to deep red (ColorBrewer OrRd).
pub static LIGHT: Palette = Palette {
    background: c(0xffffff),
    ocean: c(0xdce8f2),
    land: c(0xe4e4e1),
    border: c(0xa7a7a7),
    text: c(0x1f1f1f),
    muted: c(0x5f6368),
    point: Color {
        r: 0x1f,
        g: 0x4e,
        b: 0xb4,
        a: 170,
    },
    point_edge: c(0xffffff),
    home: c(0x1b7f1b),
    ramp: &[
        c(0xfdd9a8),
        c(0xfdbb84),
        c(0xfc8d59),
        c(0xe34a33),
        c(0xb30000),
        c(0x7f0000),
    ],
    series: &[
        c(0xd7301f),
        c(0xfc8d59),
        c(0x1f4eb4),
        c(0x2ca25f),
        c(0x756bb1),
        c(0xfdae6b),
        c(0xdd3497),
        c(0x41b6c4),
        c(0x8c6d31),
        c(0x636363),
    ],
    other: c(0xbdbdbd),
};

impl Palette {
    /// Colour at `t` ∈ [0, 1] along the ramp.
    pub fn ramp_at(&self, t: f64) -> Color {
        let t = t.clamp(0.0, 1.0);
        let n = self.ramp.len() - 1;
        let pos = t * n as f64;
        let i = (pos.floor() as usize).min(n - 1);
        self.ramp[i].lerp(self.ramp[i + 1], pos - i as f64)
    }

    /// Colour of a country that sent `n` of at most `max` attempts: log scale, so
    /// one country with a million attempts does not leave all others dark.
    pub fn attempts(&self, n: u64, max: u64) -> Color {
        if n == 0 || max == 0 {
            return self.land;
        }
        self.ramp_at(log_pos(n, max))
    }
}

/// Position of `n` on a log scale from 1 to `max`.
pub fn log_pos(n: u64, max: u64) -> f64 {
    if max <= 1 {
        return 1.0;
    }
    ((n.max(1) as f64).ln() / (max as f64).ln()).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramp_ends_and_log_scale() {
        for t in [Theme::Dark, Theme::Light] {
            let p = t.palette();
            assert_eq!(p.attempts(1000, 1000), *p.ramp.last().unwrap());
            assert_eq!(p.attempts(1, 1000), p.ramp[0]);
            assert_eq!(p.attempts(0, 1000), p.land);
            assert_eq!(p.attempts(5, 5), *p.ramp.last().unwrap());
        }
        assert!((log_pos(10, 100) - 0.5).abs() < 1e-9);
        assert_eq!(log_pos(1, 1), 1.0);
    }
}
