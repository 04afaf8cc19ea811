//! Which countries an IANA time zone's area covers, to flag an ad account whose time zone
//! cannot be its market's (a `Europe/...` zone for a US market). Coarse on purpose: it
//! knows areas, not the zone-by-zone table (`zone1970.tab`), so `America/New_York` for a
//! Mexican market passes; it catches the mistakes that shift every day by hours.

/// ISO 3166-1 alpha-2 countries with at least one zone in each IANA area.
const AREAS: &[(&str, &str)] = &[
    (
        "America",
        "AG AI AR AW BB BL BO BQ BR BS BZ CA CL CO CR CU CW DM DO EC GD GF GL GP GT GY HN HT JM \
         KN KY LC MF MQ MS MX NI PA PE PM PR PY SR SV SX TC TT US UY VC VE VG VI",
    ),
    (
        "Europe",
        "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE \
         KZ LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM TR UA VA XK",
    ),
    (
        "Asia",
        "AE AF AM AZ BD BH BN BT CN CY GE HK ID IL IN IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM \
         MN MO MY NP OM PH PK PS QA RU SA SG SY TH TJ TL TM TR TW UZ VN YE",
    ),
    (
        "Africa",
        "AO BF BI BJ BW CD CF CG CI CM DJ DZ EG EH ER ES ET GA GH GM GN GQ GW KE LR LS LY MA ML \
         MR MW MZ NA NE NG RW SD SL SN SO SS ST SZ TD TG TN TZ UG ZA ZM ZW",
    ),
    ("Australia", "AU"),
    (
        "Pacific",
        "AS AU CK CL EC FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM US VU WF WS",
    ),
    ("Atlantic", "BM CV ES FK FO GS IS PT SH"),
    ("Indian", "CC CX IO KM MG MU MV RE SC TF YT"),
];

/// Whether `zone` (e.g. "Europe/London") can be a zone of `country` (e.g. "US"): `None`
/// when the area is not one of the geographic ones (UTC, Etc/GMT+5, Antarctica, ...).
pub fn zone_fits_country(zone: &str, country: &str) -> Option<bool> {
    let area = zone.trim().split('/').next()?;
    let (_, countries) = AREAS.iter().find(|(a, _)| *a == area)?;
    let country = country.trim().to_ascii_uppercase();
    Some(countries.split_whitespace().any(|c| c == country))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_know_their_countries() {
        assert_eq!(zone_fits_country("America/Los_Angeles", "US"), Some(true));
        assert_eq!(zone_fits_country("Pacific/Honolulu", "us"), Some(true));
        assert_eq!(zone_fits_country("Europe/London", "US"), Some(false));
        assert_eq!(zone_fits_country("Asia/Tokyo", "JP"), Some(true));
        assert_eq!(zone_fits_country("Europe/Moscow", "RU"), Some(true));
        assert_eq!(zone_fits_country("Asia/Yekaterinburg", "RU"), Some(true));
        assert_eq!(zone_fits_country("Australia/Sydney", "GB"), Some(false));
        assert_eq!(zone_fits_country("Etc/GMT+5", "US"), None);
        assert_eq!(zone_fits_country("UTC", "US"), None);
        assert_eq!(zone_fits_country("", "US"), None);
    }
}
