/// Formats a duration in seconds as `4m00s`, the style used in decision reasons.
pub(crate) fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    format!("{}m{:02}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_minutes_and_seconds() {
        assert_eq!(super::duration(240), "4m00s");
        assert_eq!(super::duration(179), "2m59s");
        assert_eq!(super::duration(3605), "60m05s");
    }
}
