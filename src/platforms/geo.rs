//! Country ids the platforms use in place of ISO codes: TikTok targets GeoNames ids
//! (`location_ids`), Google Ads geo target constants (2000 + ISO 3166-1 numeric). Countries
//! missing here can still be targeted by giving the platform's own id in `targeting.regions`.

/// (ISO 3166-1 alpha-2, GeoNames id, ISO 3166-1 numeric)
const COUNTRIES: &[(&str, u32, u16)] = &[
    ("AE", 290557, 784),
    ("AR", 3865483, 32),
    ("AT", 2782113, 40),
    ("AU", 2077456, 36),
    ("BE", 2802361, 56),
    ("BR", 3469034, 76),
    ("CA", 6251999, 124),
    ("CH", 2658434, 756),
    ("CL", 3895114, 152),
    ("CN", 1814991, 156),
    ("CO", 3686110, 170),
    ("CZ", 3077311, 203),
    ("DE", 2921044, 276),
    ("DK", 2623032, 208),
    ("EG", 357994, 818),
    ("ES", 2510769, 724),
    ("FI", 660013, 246),
    ("FR", 3017382, 250),
    ("GB", 2635167, 826),
    ("GR", 390903, 300),
    ("HK", 1819730, 344),
    ("HU", 719819, 348),
    ("ID", 1643084, 360),
    ("IE", 2963597, 372),
    ("IL", 294640, 376),
    ("IN", 1269750, 356),
    ("IT", 3175395, 380),
    ("JP", 1861060, 392),
    ("KE", 192950, 404),
    ("KR", 1835841, 410),
    ("MA", 2542007, 504),
    ("MX", 3996063, 484),
    ("MY", 1733045, 458),
    ("NG", 2328926, 566),
    ("NL", 2750405, 528),
    ("NO", 3144096, 578),
    ("NZ", 2186224, 554),
    ("PE", 3932488, 604),
    ("PH", 1694008, 608),
    ("PK", 1168579, 586),
    ("PL", 798544, 616),
    ("PT", 2264397, 620),
    ("RO", 798549, 642),
    ("SA", 102358, 682),
    ("SE", 2661886, 752),
    ("SG", 1880251, 702),
    ("TH", 1605651, 764),
    ("TR", 298795, 792),
    ("TW", 1668284, 158),
    ("UA", 690791, 804),
    ("US", 6252001, 840),
    ("VN", 1562822, 704),
    ("ZA", 953987, 710),
];

fn find(alpha2: &str) -> Option<&'static (&'static str, u32, u16)> {
    let code = alpha2.trim().bytes().map(|b| b.to_ascii_uppercase());
    // COUNTRIES is sorted by code (checked by a test).
    COUNTRIES
        .binary_search_by(|(c, _, _)| c.bytes().cmp(code.clone()))
        .ok()
        .map(|i| &COUNTRIES[i])
}

/// TikTok location id (GeoNames) of a country.
pub fn tiktok_location_id(alpha2: &str) -> Option<String> {
    find(alpha2).map(|(_, g, _)| g.to_string())
}

/// Google Ads geo target constant id of a country.
pub fn google_geo_target(alpha2: &str) -> Option<String> {
    find(alpha2).map(|(_, _, n)| (2000 + u32::from(*n)).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countries_are_sorted_by_code_for_the_binary_search() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        for (code, geonames, _) in COUNTRIES {
            assert_eq!(tiktok_location_id(code), Some(geonames.to_string()));
            assert_eq!(
                tiktok_location_id(&format!(" {} ", code.to_lowercase())),
                Some(geonames.to_string())
            );
        }
        assert_eq!(tiktok_location_id("XX"), None);
        assert_eq!(tiktok_location_id(""), None);
    }

    #[test]
    fn known_countries_map_to_platform_ids() {
        assert_eq!(tiktok_location_id("us").as_deref(), Some("6252001"));
        assert_eq!(google_geo_target("US").as_deref(), Some("2840"));
        assert_eq!(google_geo_target("GB").as_deref(), Some("2826"));
        assert_eq!(google_geo_target("AU").as_deref(), Some("2036"));
        assert_eq!(tiktok_location_id("XX"), None);
        let mut codes: Vec<&str> = COUNTRIES.iter().map(|c| c.0).collect();
        codes.dedup();
        assert_eq!(codes.len(), COUNTRIES.len(), "sorted and unique");
    }
}
