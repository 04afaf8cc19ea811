use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;

/// Active ISO 4217 codes and their number of minor-unit digits.
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// An ISO 4217 currency code ("USD", "JPY").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_digits: u8,
}

impl Currency {
    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        // The table's codes are upper-case ASCII in order: the upper-cased input is looked up
        // by bisection, without allocating it.
        let t = raw.trim().as_bytes();
        let found = match t {
            [a, b, c] => {
                let key = [
                    a.to_ascii_uppercase(),
                    b.to_ascii_uppercase(),
                    c.to_ascii_uppercase(),
                ];
                ISO_4217
                    .binary_search_by(|(code, _)| code.as_bytes().cmp(&key[..]))
                    .ok()
                    .map(|i| &ISO_4217[i])
            }
            _ => None,
        };
        match found {
            Some((c, digits)) => {
                let b = c.as_bytes();
                Ok(Self {
                    code: [b[0], b[1], b[2]],
                    minor_digits: *digits,
                })
            }
            None => Err(AppError::validation(
                field,
                format!(
                    "\"{raw}\" is not an ISO 4217 currency code; use one such as \"USD\", \"EUR\" or \"JPY\""
                ),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        // The bytes come from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    /// Digits after the decimal point in this currency (USD 2, JPY 0, KWD 3).
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse("currency", &s).map_err(|e| e.to_string())
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money: integer minor units plus the currency. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    /// Parse a decimal string in major units ("19.99") exactly into minor units.
    /// More decimals than the currency has is an error, never a rounding.
    pub fn parse_major(field: &str, raw: &str, currency: Currency) -> Result<Self, AppError> {
        let s = raw.trim();
        let bad = |why: &str| {
            AppError::validation(
                field,
                format!(
                    "\"{raw}\" is not a valid {currency} amount: {why}; write a plain decimal such as \"{}\"",
                    example_amount(currency)
                ),
            )
        };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        if s.starts_with('-') {
            return Err(bad("it is negative"));
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int_part.is_empty() || !int_part.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("the whole part must be digits"));
        }
        if !frac_part.chars().all(|c| c.is_ascii_digit())
            || (s.contains('.') && frac_part.is_empty())
        {
            return Err(bad("the decimal part must be digits"));
        }
        let digits = currency.minor_digits() as usize;
        if frac_part.len() > digits {
            return Err(bad(&format!(
                "{currency} has {digits} decimal place{}",
                if digits == 1 { "" } else { "s" }
            )));
        }
        let scale = 10i64.pow(digits as u32);
        let whole: i64 = int_part.parse().map_err(|_| bad("it is too large"))?;
        let mut frac: i64 = if frac_part.is_empty() {
            0
        } else {
            frac_part
                .parse()
                .map_err(|_| bad("the decimal part is invalid"))?
        };
        frac *= 10i64.pow((digits - frac_part.len()) as u32);
        let amount_minor = whole
            .checked_mul(scale)
            .and_then(|v| v.checked_add(frac))
            .ok_or_else(|| bad("it is too large"))?;
        Ok(Self {
            amount_minor,
            currency,
        })
    }

    /// The amount as a decimal string in major units ("19.99", "5000").
    pub fn to_major_string(&self) -> String {
        let digits = self.currency.minor_digits() as u32;
        if digits == 0 {
            return self.amount_minor.to_string();
        }
        // Written digit by digit: `format!` was a fiftieth of a QA run (the budget rule
        // writes two amounts into every report).
        let scale = 10u64.pow(digits);
        let abs = self.amount_minor.unsigned_abs();
        let mut out = String::with_capacity(24);
        if self.amount_minor < 0 {
            out.push('-');
        }
        push_digits(&mut out, abs / scale, 1);
        out.push('.');
        push_digits(&mut out, abs % scale, digits);
        out
    }
}

/// `n` in decimal, padded with zeros to at least `width` digits.
fn push_digits(out: &mut String, mut n: u64, width: u32) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while n > 0 || buf.len() - at < width as usize {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    // ASCII digits only: always UTF-8.
    if let Ok(digits) = std::str::from_utf8(&buf[at..]) {
        out.push_str(digits);
    }
}

fn example_amount(currency: Currency) -> &'static str {
    match currency.minor_digits() {
        0 => "5000",
        3 => "19.995",
        4 => "1.2345",
        _ => "19.99",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(c: &str) -> Currency {
        Currency::parse("currency", c).unwrap()
    }

    #[test]
    fn currencies_are_iso_4217() {
        assert_eq!(cur("usd").as_str(), "USD");
        assert_eq!(cur("JPY").minor_digits(), 0);
        assert_eq!(cur("KWD").minor_digits(), 3);
        assert!(Currency::parse("currency", "XXY").is_err());
        assert!(Currency::parse("currency", "US").is_err());
        assert!(Currency::parse("currency", "USDX").is_err());
        assert_eq!(cur(" eUr ").as_str(), "EUR");
    }

    /// The lookup bisects the table: it must stay in order, and every code in it is found,
    /// in either case.
    #[test]
    fn every_code_in_the_table_is_found() {
        assert!(
            ISO_4217.windows(2).all(|w| w[0].0 < w[1].0),
            "ISO_4217 out of order"
        );
        for (code, digits) in ISO_4217 {
            for given in [code.to_string(), code.to_ascii_lowercase()] {
                let c = cur(&given);
                assert_eq!((c.as_str(), c.minor_digits()), (*code, *digits));
            }
        }
    }

    #[test]
    fn major_amounts_parse_exactly() {
        assert_eq!(
            Money::parse_major("b", "19.99", cur("USD"))
                .unwrap()
                .amount_minor,
            1999
        );
        assert_eq!(
            Money::parse_major("b", "19.9", cur("USD"))
                .unwrap()
                .amount_minor,
            1990
        );
        assert_eq!(
            Money::parse_major("b", "5000", cur("JPY"))
                .unwrap()
                .amount_minor,
            5000
        );
        assert_eq!(
            Money::parse_major("b", "1.005", cur("KWD"))
                .unwrap()
                .amount_minor,
            1005
        );
        let e = Money::parse_major("budget.amount", "5000.5", cur("JPY"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("budget.amount:") && e.contains("JPY has 0 decimal places"),
            "{e}"
        );
        assert!(Money::parse_major("b", "1.999", cur("USD")).is_err());
        assert!(Money::parse_major("b", "-1", cur("USD")).is_err());
        assert!(Money::parse_major("b", "1e3", cur("USD")).is_err());
        assert!(Money::parse_major("b", "1.", cur("USD")).is_err());
        assert!(Money::parse_major("b", "99999999999999999999", cur("USD")).is_err());
        // Large values stay exact: no float anywhere.
        let big = Money::parse_major("b", "92233720368547758.07", cur("USD")).unwrap();
        assert_eq!(big.amount_minor, i64::MAX);
        assert_eq!(big.to_major_string(), "92233720368547758.07");
    }

    #[test]
    fn major_strings_round_trip() {
        for (s, c) in [
            ("0.01", "USD"),
            ("19.99", "EUR"),
            ("5000", "JPY"),
            ("0.001", "BHD"),
        ] {
            let m = Money::parse_major("b", s, cur(c)).unwrap();
            assert_eq!(m.to_major_string(), s);
        }
    }

    #[test]
    fn major_strings_are_written_as_the_decimal_format_writes_them() {
        for c in ["USD", "JPY", "BHD", "CLF"] {
            let currency = cur(c);
            let digits = currency.minor_digits() as u32;
            for amount_minor in [
                0,
                1,
                -1,
                7,
                10,
                99,
                100,
                1_005,
                -1_005,
                123_456_789,
                10_000_000_000,
                i64::MAX,
                i64::MIN + 1,
                i64::MIN,
            ] {
                let m = Money {
                    amount_minor,
                    currency,
                };
                let expected = if digits == 0 {
                    amount_minor.to_string()
                } else {
                    let scale = 10u64.pow(digits);
                    let abs = amount_minor.unsigned_abs();
                    format!(
                        "{}{}.{:0width$}",
                        if amount_minor < 0 { "-" } else { "" },
                        abs / scale,
                        abs % scale,
                        width = digits as usize
                    )
                };
                assert_eq!(m.to_major_string(), expected, "{amount_minor} {c}");
            }
        }
    }
}
