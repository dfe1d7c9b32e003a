//! Line charts as inline SVG: axes with ticks and units, a legend, optional event markers.

use std::fmt::Write;

pub const WIDTH: f64 = 1100.0;
pub const HEIGHT: f64 = 320.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 70.0;
const TOP: f64 = 52.0;
const BOTTOM: f64 = 50.0;
/// Points kept per series; more are merged, keeping each bucket's maximum so spikes survive.
const MAX_POINTS: usize = 1200;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Axis {
    Left,
    Right,
}

pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub axis: Axis,
    /// Drawn as steps (a count that holds until it changes) rather than straight segments.
    pub steps: bool,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

pub struct Marker {
    pub x: f64,
    pub color: &'static str,
    pub symbol: &'static str,
}

pub struct Chart {
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub left_label: String,
    pub right_label: Option<String>,
    pub series: Vec<Series>,
    pub markers: Vec<(String, Vec<Marker>)>,
}

impl Chart {
    pub fn render(&self) -> String {
        let x_max = self.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(0.0, f64::max).max(1e-9);
        let top_of = |axis: Axis| {
            let max = self
                .series
                .iter()
                .filter(|s| s.axis == axis)
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold(0.0, f64::max);
            nice_ceiling(max)
        };
        let (left_max, right_max) = (top_of(Axis::Left), top_of(Axis::Right));
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let sx = |x: f64| LEFT + x / x_max * plot_w;
        let sy = |y: f64, axis: Axis| {
            let max = if axis == Axis::Left { left_max } else { right_max };
            TOP + plot_h - y / max * plot_h
        };

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg id="{}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{}">"#,
            self.id,
            escape(&self.title)
        );
        let _ = write!(svg, r#"<text x="{LEFT}" y="18" class="title">{}</text>"#, escape(&self.title));
        // Grid and ticks.
        for i in 0..=4 {
            let value = left_max * f64::from(i) / 4.0;
            let y = sy(value, Axis::Left);
            let _ = write!(
                svg,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#e5e5e5"/><text x="{}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                format_tick(value)
            );
            if self.right_label.is_some() {
                let _ = write!(
                    svg,
                    r#"<text x="{}" y="{:.1}" class="tick">{}</text>"#,
                    LEFT + plot_w + 6.0,
                    y + 4.0,
                    format_tick(right_max * f64::from(i) / 4.0)
                );
            }
        }
        let x_step = tick_step(x_max);
        let mut x = 0.0;
        while x <= x_max + 1e-9 {
            let px = sx(x);
            let _ = write!(
                svg,
                r##"<line x1="{px:.1}" x2="{px:.1}" y1="{}" y2="{}" stroke="#999"/><text x="{px:.1}" y="{}" text-anchor="middle" class="tick">{}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 5.0,
                TOP + plot_h + 18.0,
                format_tick(x)
            );
            x += x_step;
        }
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{}" stroke="#333"/><line x1="{LEFT}" x2="{}" y1="{}" y2="{}" stroke="#333"/>"##,
            TOP + plot_h,
            LEFT + plot_w,
            TOP + plot_h,
            TOP + plot_h
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" class="axis">{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 8.0,
            escape(&self.x_label)
        );
        let _ = write!(
            svg,
            r#"<text transform="translate(16 {:.1}) rotate(-90)" text-anchor="middle" class="axis">{}</text>"#,
            TOP + plot_h / 2.0,
            escape(&self.left_label)
        );
        if let Some(label) = &self.right_label {
            let _ = write!(
                svg,
                r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" class="axis">{}</text>"#,
                WIDTH - 14.0,
                TOP + plot_h / 2.0,
                escape(label)
            );
        }
        // Lines.
        for s in &self.series {
            let mut path = String::new();
            let mut previous: Option<(f64, f64)> = None;
            for (x, y) in downsample(&s.points) {
                let (px, py) = (sx(x), sy(y, s.axis));
                match previous {
                    None => {
                        let _ = write!(path, "M{px:.1},{py:.1}");
                    }
                    Some((_, prev_y)) if s.steps => {
                        let _ = write!(path, "L{px:.1},{prev_y:.1}L{px:.1},{py:.1}");
                    }
                    Some(_) => {
                        let _ = write!(path, "L{px:.1},{py:.1}");
                    }
                }
                previous = Some((px, py));
            }
            let _ = write!(
                svg,
                r#"<path d="{path}" fill="none" stroke="{}" stroke-width="1.4"{}><title>{}</title></path>"#,
                s.color,
                if s.dashed { r#" stroke-dasharray="5 3""# } else { "" },
                escape(&s.name)
            );
        }
        // Event markers along the bottom of the plot.
        for (_, markers) in &self.markers {
            for m in markers {
                let _ = write!(
                    svg,
                    r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="{}" class="marker">{}</text>"#,
                    sx(m.x),
                    TOP + plot_h - 3.0,
                    m.color,
                    m.symbol
                );
            }
        }
        // Legend.
        let mut lx = LEFT;
        for s in &self.series {
            let axis = if self.right_label.is_some() && s.axis == Axis::Right { " (right axis)" } else { "" };
            let label = format!("{}{axis}", s.name);
            let _ = write!(
                svg,
                r#"<rect x="{lx:.1}" y="32" width="14" height="4" fill="{}"/><text x="{:.1}" y="38" class="legend">{}</text>"#,
                s.color,
                lx + 18.0,
                escape(&label)
            );
            lx += 40.0 + label.chars().count() as f64 * 7.2;
        }
        for (label, markers) in &self.markers {
            if let Some(m) = markers.first() {
                let _ = write!(
                    svg,
                    r#"<text x="{lx:.1}" y="38" fill="{}" class="legend">{} {}</text>"#,
                    m.color,
                    m.symbol,
                    escape(label)
                );
                lx += 40.0 + label.chars().count() as f64 * 7.2;
            }
        }
        svg.push_str("</svg>");
        svg
    }
}

/// At most `MAX_POINTS` points: each bucket keeps its last x and its highest y.
fn downsample(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let per = points.len().div_ceil(MAX_POINTS);
    points.chunks(per).map(|c| (c[c.len() - 1].0, c.iter().map(|p| p.1).fold(f64::MIN, f64::max))).collect()
}

/// 1, 2 or 5 times a power of ten, at or above `max`.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(max.log10().floor());
    [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= max)
        .unwrap_or(10.0 * magnitude)
}

/// A tick spacing giving 4–12 ticks.
fn tick_step(max: f64) -> f64 {
    [1.0, 2.0, 6.0, 12.0, 24.0, 48.0, 168.0, 336.0, 720.0].into_iter().find(|s| max / s <= 12.0).unwrap_or(max / 4.0)
}

fn format_tick(value: f64) -> String {
    if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_spikes_survive_downsampling() {
        assert_eq!(nice_ceiling(37.0), 40.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(10.0), 10.0);
        assert_eq!(tick_step(168.0), 24.0);
        let mut points: Vec<(f64, f64)> = (0..5000).map(|i| (f64::from(i), 1.0)).collect();
        points[2500].1 = 9.0;
        let kept = downsample(&points);
        assert!(kept.len() <= MAX_POINTS);
        assert!(kept.iter().any(|p| p.1 == 9.0));
    }
}
