//! The scene: what a picture contains, in pixels, independent of the file format.
//!
//! Maps and charts build a [`Scene`]; [`super::raster`] and [`super::svg`] draw the
//! same scene, so a PNG and an SVG of one map can never disagree.

/// Straight (not premultiplied) RGBA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Color {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Color {
    pub const fn rgb(hex: u32) -> Color {
        Color {
            r: (hex >> 16) as u8,
            g: (hex >> 8) as u8,
            b: hex as u8,
            a: 255,
        }
    }

    pub const fn with_alpha(self, a: u8) -> Color {
        Color { a, ..self }
    }

    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    pub fn lerp(self, o: Color, t: f64) -> Color {
        let m = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * t).round() as u8;
        Color {
            r: m(self.r, o.r),
            g: m(self.g, o.g),
            b: m(self.b, o.b),
            a: m(self.a, o.a),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stroke {
    pub color: Color,
    pub width: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// A filled and/or stroked set of rings (even-odd), e.g. one country.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// SVG `id` (a country's ISO code).
    pub id: Option<String>,
    /// SVG tooltip; may hold attacker-controlled text (escaped when written).
    pub title: Option<String>,
    pub rings: Vec<Vec<(f32, f32)>>,
    /// Whether the rings are closed (polygons) or open (lines).
    pub closed: bool,
    pub fill: Option<Color>,
    pub stroke: Option<Stroke>,
    /// Open polylines stroked instead of the rings' outline, when some ring edges
    /// are not real borders (the ±180° cut, the far side of a globe).
    pub lines: Option<Vec<Vec<(f32, f32)>>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Text {
    pub x: f32,
    /// Baseline.
    pub y: f32,
    pub size: f32,
    pub color: Color,
    pub anchor: Anchor,
    /// May be attacker-controlled: escaped by each back end.
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Shape(Shape),
    Circle {
        cx: f32,
        cy: f32,
        r: f32,
        fill: Color,
        stroke: Option<Stroke>,
        /// SVG tooltip; may hold attacker-controlled text (escaped when written).
        title: Option<String>,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Color,
    },
    /// A horizontal gradient through evenly spaced colours (the legend bar).
    Gradient {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        stops: Vec<Color>,
    },
    Text(Text),
    /// Children drawn inside `clip` (even-odd rings), if any.
    Group {
        id: Option<String>,
        clip: Option<Vec<Vec<(f32, f32)>>>,
        items: Vec<Item>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub background: Color,
    /// SVG `<title>` and PNG description.
    pub title: String,
    pub items: Vec<Item>,
}

impl Scene {
    pub fn new(width: u32, height: u32, background: Color, title: impl Into<String>) -> Scene {
        Scene {
            width,
            height,
            background,
            title: title.into(),
            items: Vec::new(),
        }
    }

    pub fn text(
        &mut self,
        x: f32,
        y: f32,
        size: f32,
        color: Color,
        anchor: Anchor,
        text: impl Into<String>,
    ) {
        self.items.push(Item::Text(Text {
            x,
            y,
            size,
            color,
            anchor,
            text: text.into(),
        }));
    }
}
