// Checks what Kafaat issues with implementations nobody on the project wrote; run by the pytest interop tier.
//
// Reads one job (JSON) on stdin and prints one JSON object: {"<check>": {"ok": bool, ...}, ...}.
//   job.documents   URL -> JSON document, as the site serves them (issuer document, status lists);
//                   the document loader answers from these, the shipped contexts and nothing else.
//   job.credential  a signed OpenBadgeCredential: Digital Bazaar's verifier (proof, dates, status)
//                   and the 1EdTech OB 3.0 JSON Schema.
//   job.jwt         a VC-JWT: verified with `jose`, its key found from the `kid` in job.documents.
//   job.statements  xAPI statements: Learning Locker's `xapi-validation`.
// Nothing here opens a socket: a URL that is not in the job or the shipped contexts is an error.

import {readFileSync} from 'node:fs';

import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import * as vc from '@digitalbazaar/vc';
import {checkStatus, decodeList} from '@digitalbazaar/vc-bitstring-status-list';
import Ajv2019 from 'ajv/dist/2019.js';
import addFormats from 'ajv-formats';
import * as jose from 'jose';
import securityContext from '@digitalbazaar/security-context';
import xapiValidationModule from 'xapi-validation';

// A CommonJS module whose validator is its `default` export.
const xapiValidation = xapiValidationModule.default;
const here = new URL('.', import.meta.url);
const kafaatContexts = new URL('../../xblocks/certification/credentials/contexts/', here);

function json(url) {
  return JSON.parse(readFileSync(url, 'utf8'));
}

// Contexts: Digital Bazaar's own copies where its packages ship one; the files Kafaat ships otherwise
// (the OB 3.0 context and the two security contexts no installed package carries).
const CONTEXTS = new Map([
  ...credentialsContexts,
  ...securityContext.contexts,
  ['https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json',
    json(new URL('ob-v3p0-context-3.0.3.json', kafaatContexts))],
  ['https://www.w3.org/ns/cid/v1', json(new URL('cid-v1.jsonld', kafaatContexts))],
  ['https://w3id.org/security/multikey/v1', json(new URL('multikey-v1.jsonld', kafaatContexts))],
  ['https://w3id.org/security/data-integrity/v2',
    json(new URL('data-integrity-v2.jsonld', kafaatContexts))],
]);

function makeLoader(documents) {
  const requested = [];
  async function documentLoader(url) {
    requested.push(url);
    if(CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
    }
    const [base] = url.split('#');
    const document = documents[base];
    if(!document) {
      throw new Error(`offline document loader: ${url} is not available`);
    }
    if(base === url) {
      return {contextUrl: null, documentUrl: url, document};
    }
    // A fragment names a verification method of a controller document: dereference it there,
    // with the document's contexts (as DID resolvers do for DID URLs).
    const method = (document.verificationMethod || []).find(vm => vm.id === url);
    if(!method) {
      throw new Error(`offline document loader: ${url} is not a verification method of ${base}`);
    }
    return {
      contextUrl: null, documentUrl: url,
      document: {'@context': document['@context'], ...method}
    };
  }
  return {documentLoader, requested};
}

function describe(error) {
  if(!error) {
    return '';
  }
  const errors = Array.isArray(error) ? error :
    (error.errors || (error.cause ? [error, error.cause] : [error]));
  return errors.map(e => (e && (e.message || String(e))) || '').join('; ');
}

// vc-bitstring-status-list 2.0.1 verifies the status list credential (proof, issuer, purpose) and
// decodes the list, but reads one bit at `statusListIndex` whatever the entry's statusSize. The value
// of a multi-bit entry is read here from the library's decoded list, at index * statusSize, most
// significant bit first (Bitstring Status List 1.0, "Validate Algorithm").
async function statusOf({credential, documentLoader, suite}) {
  const checked = await checkStatus({
    credential, documentLoader, suite,
    verifyBitstringStatusListCredential: true, verifyMatchingIssuers: true
  });
  if(!checked.verified) {
    return {verified: false, error: checked.error};
  }
  const statuses = [];
  for(const {credentialStatus: entry} of checked.results) {
    const {document: listCredential} = await documentLoader(entry.statusListCredential);
    const list = await decodeList(listCredential.credentialSubject);
    const size = entry.statusSize || 1;
    const index = parseInt(entry.statusListIndex, 10);
    let value = 0;
    for(let position = index * size; position < (index + 1) * size; position++) {
      value = value * 2 + (list.getStatus(position) ? 1 : 0);
    }
    const message = (entry.statusMessage || []).find(m => parseInt(m.status, 16) === value);
    statuses.push({
      purpose: entry.statusPurpose, size, value,
      message: message ? message.message : null
    });
  }
  return {verified: true, statuses};
}

async function checkCredential(credential, documents) {
  const {documentLoader, requested} = makeLoader(documents);
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
  let status = null;
  const result = await vc.verifyCredential({
    credential, suite, documentLoader,
    async checkStatus(options) {
      status = await statusOf(options);
      return {verified: status.verified, error: status.error};
    }
  });
  return {
    ok: result.verified === true,
    proof: (result.results || []).map(r => ({verified: r.verified,
      purpose: r.purposeResult && r.purposeResult.valid,
      error: describe(r.error)})),
    status: status && {verified: status.verified, statuses: status.statuses || [],
      error: describe(status.error)},
    error: describe(result.error),
    requested
  };
}

async function checkJwt(token, documents) {
  const {documentLoader, requested} = makeLoader(documents);
  try {
    const header = jose.decodeProtectedHeader(token);
    const {document: method} = await documentLoader(header.kid);
    if(!method.publicKeyJwk) {
      return {ok: false, error: `kid ${header.kid} does not dereference to a JWK`, requested};
    }
    const key = await jose.importJWK(method.publicKeyJwk, header.alg);
    const {payload, protectedHeader} = await jose.jwtVerify(token, key, {
      algorithms: ['EdDSA'], issuer: method.controller
    });
    return {
      ok: true, alg: protectedHeader.alg, kid: protectedHeader.kid, typ: protectedHeader.typ,
      iss: payload.iss, sub: payload.sub, jti: payload.jti, id: payload.id, requested
    };
  } catch(error) {
    return {ok: false, error: describe(error), code: error.code || null, requested};
  }
}

function checkSchema(credential) {
  const schema = json(new URL('schemas/ob_v3p0_achievementcredential_schema.json', here));
  const ajv = new Ajv2019({strict: false, allErrors: true});
  addFormats(ajv);
  const validate = ajv.compile(schema);
  const ok = validate(credential);
  return {
    ok, schema: schema.$id,
    errors: (validate.errors || []).map(e => `${e.instancePath || '/'} ${e.message}`)
  };
}

function checkStatements(statements) {
  const results = statements.map(statement => {
    const warnings = xapiValidation(statement);
    return {
      id: statement.id,
      // rulr warnings: the path from "statement" and the kind (RequiredWarning, TypeWarning, ...).
      warnings: warnings.map(w => `${(w.path || []).slice(1).join('.')}: ${w.constructor.name}` +
        (w.typeName ? ` (${w.typeName})` : ''))
    };
  });
  return {ok: results.every(r => r.warnings.length === 0), statements: results};
}

async function main() {
  const job = JSON.parse(readFileSync(0, 'utf8'));
  const documents = job.documents || {};
  const out = {};
  if(job.credential) {
    out.credential = await checkCredential(job.credential, documents);
    out.schema = checkSchema(job.credential);
  }
  if(job.jwt) {
    out.jwt = await checkJwt(job.jwt, documents);
  }
  if(job.statements) {
    out.xapi = checkStatements(job.statements);
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch(error => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(2);
});
