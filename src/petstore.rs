//! The PetStore sample API that the walkthrough deploys (ARTICLE.md step 9).
//!
//! One definition serves both the OpenAPI body imported into API Gateway and the local
//! rehearsal gateway, so what `mtls serve` answers is what the deployed API answers.

use serde::Serialize;

/// One pet of the sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pet {
    pub id: u32,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub price: f64,
}

/// The three pets that `GET /pets` returns, as in the AWS PetStore sample.
pub const PETS: [Pet; 3] = [
    Pet {
        id: 1,
        kind: "dog",
        price: 249.99,
    },
    Pet {
        id: 2,
        kind: "cat",
        price: 124.99,
    },
    Pet {
        id: 3,
        kind: "fish",
        price: 0.99,
    },
];

/// Body of `GET /pets`.
pub fn pets_json() -> String {
    serde_json::to_string(&PETS).unwrap_or_else(|_| "[]".to_string())
}

/// Body of `GET /pets/{id}`, or `None` when there is no such pet.
pub fn pet_json(id: &str) -> Option<String> {
    let id: u32 = id.parse().ok()?;
    let pet = PETS.iter().find(|p| p.id == id)?;
    serde_json::to_string(pet).ok()
}
