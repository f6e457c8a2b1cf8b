//! The PetStore sample API that the walkthrough deploys (the walkthrough, step 9).
//!
//! One definition serves both the OpenAPI body imported into API Gateway and the local
//! rehearsal gateway, so what `mtls serve` answers is what the deployed API answers.

use serde::Serialize;
use serde_json::{json, Value};

/// The sample's name, as the console's own PetStore example calls it.
pub const API_NAME: &str = "PetStore";

/// One pet of the sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pet {
    /// The pet's id (`GET /pets/{petId}`).
    pub id: u32,
    #[serde(rename = "type")]
    /// `dog`, `cat` or `fish`.
    pub kind: &'static str,
    /// The price in dollars.
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

/// The PetStore API as an OpenAPI 3 document, generated from [`PETS`]:
/// `GET /pets` and `GET /pets/{petId}`, each a MOCK integration answering the same JSON as the
/// local rehearsal gateway (an unknown id answers 404).
pub fn openapi() -> Value {
    let pet_schema = json!({
        "type": "object",
        "properties": {
            "id": { "type": "integer" },
            "type": { "type": "string" },
            "price": { "type": "number" }
        }
    });
    // One VTL branch per pet, chosen by the path parameter.
    let mut by_id = String::from("#set($petId = $input.params('petId'))\n");
    let mut known_ids = Vec::new();
    for (i, pet) in PETS.iter().enumerate() {
        let keyword = if i == 0 { "#if" } else { "#elseif" };
        let body = pet_json(&pet.id.to_string()).unwrap_or_default();
        by_id.push_str(&format!("{keyword}($petId == \"{}\")\n{body}\n", pet.id));
        known_ids.push(format!("$petId == \"{}\"", pet.id));
    }
    by_id.push_str("#end");
    let select_status = format!(
        "#set($petId = $input.params('petId'))\n#if({})\n{{\"statusCode\": 200}}\n#else\n{{\"statusCode\": 404}}\n#end",
        known_ids.join(" || ")
    );
    json!({
        "openapi": "3.0.1",
        "info": {
            "title": API_NAME,
            "description": "The PetStore sample of the mtls walkthrough: mock integrations only.",
            "version": "1.0"
        },
        "paths": {
            "/pets": {
                "get": {
                    "operationId": "listPets",
                    "responses": {
                        "200": {
                            "description": "The pets",
                            "content": { "application/json": { "schema": {
                                "type": "array", "items": { "$ref": "#/components/schemas/Pet" }
                            } } }
                        }
                    },
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": { "application/json": "{\"statusCode\": 200}" },
                        "passthroughBehavior": "when_no_match",
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseTemplates": { "application/json": pets_json() }
                            }
                        }
                    }
                }
            },
            "/pets/{petId}": {
                "get": {
                    "operationId": "getPet",
                    "parameters": [{
                        "name": "petId", "in": "path", "required": true,
                        "schema": { "type": "string" }
                    }],
                    "responses": {
                        "200": {
                            "description": "One pet",
                            "content": { "application/json": { "schema": {
                                "$ref": "#/components/schemas/Pet"
                            } } }
                        },
                        "404": { "description": "No such pet" }
                    },
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": { "application/json": select_status },
                        "passthroughBehavior": "when_no_match",
                        "responses": {
                            "404": {
                                "statusCode": "404",
                                "responseTemplates": {
                                    "application/json": "{\"message\": \"Not Found\"}"
                                }
                            },
                            "default": {
                                "statusCode": "200",
                                "responseTemplates": { "application/json": by_id }
                            }
                        }
                    }
                }
            }
        },
        "components": { "schemas": { "Pet": pet_schema } }
    })
}

/// [`openapi`] with `title` as the API's name, as the JSON text to import.
pub fn openapi_json(title: &str) -> String {
    let mut doc = openapi();
    doc["info"]["title"] = Value::String(title.to_string());
    doc.to_string()
}
