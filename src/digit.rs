//! `Digit`: a label 0–9. It can only be made by `TryFrom`, so a bad label is
//! refused where it enters and never travels further.

use std::fmt;

use crate::error::Error;

/// A digit label, always 0–9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digit(u8);

impl Digit {
    /// All ten digits in order.
    pub fn all() -> impl Iterator<Item = Digit> {
        (0..10).map(Digit)
    }

    /// The digit as a number 0–9.
    pub fn value(self) -> u8 {
        self.0
    }

    /// The digit as an index into per-label arrays.
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

impl TryFrom<u8> for Digit {
    type Error = Error;
    fn try_from(value: u8) -> Result<Self, Error> {
        if value <= 9 {
            Ok(Digit(value))
        } else {
            Err(Error::BadLabel(value.to_string()))
        }
    }
}

impl TryFrom<i64> for Digit {
    type Error = Error;
    fn try_from(value: i64) -> Result<Self, Error> {
        u8::try_from(value)
            .map_err(|_| Error::BadLabel(value.to_string()))
            .and_then(Digit::try_from)
    }
}

impl TryFrom<&str> for Digit {
    type Error = Error;
    /// Accepts exactly one ASCII digit, as the original app's `"5"`.
    fn try_from(value: &str) -> Result<Self, Error> {
        match value.as_bytes() {
            [b @ b'0'..=b'9'] => Ok(Digit(b - b'0')),
            _ => Err(Error::BadLabel(format!("{value:?}"))),
        }
    }
}

impl TryFrom<char> for Digit {
    type Error = Error;
    fn try_from(value: char) -> Result<Self, Error> {
        value
            .to_digit(10)
            .and_then(|d| u8::try_from(d).ok())
            .map(Digit)
            .ok_or_else(|| Error::BadLabel(format!("{value:?}")))
    }
}

impl fmt::Display for Digit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_zero_to_nine() {
        assert_eq!(Digit::try_from(7u8).unwrap().value(), 7);
        assert!(Digit::try_from(10u8).is_err());
        assert!(Digit::try_from(-1i64).is_err());
        assert_eq!(Digit::try_from("5").unwrap().value(), 5);
        assert!(Digit::try_from("55").is_err());
        assert!(Digit::try_from("").is_err());
        assert!(Digit::try_from('x').is_err());
        assert_eq!(Digit::all().count(), 10);
    }
}
