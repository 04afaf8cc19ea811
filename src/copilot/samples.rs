//! The sample guideline PDFs in `guidelines/`, compiled in so `omnitraffick ingest --samples`
//! works from anywhere on a fresh database: it creates the fictional brands if missing and
//! ingests their guidelines.

/// A sample brand and its guideline PDF.
pub struct Sample {
    pub brand_code: &'static str,
    pub brand_name: &'static str,
    pub family_friendly: bool,
    pub currency: &'static str,
    pub file_name: &'static str,
    pub bytes: &'static [u8],
}

pub const SAMPLES: &[Sample] = &[
    Sample {
        brand_code: "AUR",
        brand_name: "Aurora Toys",
        family_friendly: true,
        currency: "USD",
        file_name: "aurora-toys.pdf",
        bytes: include_bytes!("../../guidelines/aurora-toys.pdf"),
    },
    Sample {
        brand_code: "NWS",
        brand_name: "Northwind Spirits",
        family_friendly: false,
        currency: "GBP",
        file_name: "northwind-spirits.pdf",
        bytes: include_bytes!("../../guidelines/northwind-spirits.pdf"),
    },
    Sample {
        brand_code: "LUM",
        brand_name: "Lumen Bank",
        family_friendly: false,
        currency: "USD",
        file_name: "lumen-bank.pdf",
        bytes: include_bytes!("../../guidelines/lumen-bank.pdf"),
    },
];
