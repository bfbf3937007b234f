/* ABI versions of the SDK libraries other than the contract.
 *
 * liballm-sdk (the contract: descriptor, registry, errors, component
 * interfaces, provider API) is governed by ALLM_ABI_MAJOR/MINOR in plugin.h,
 * which the host checks in every plugin's descriptor; its SONAME carries the
 * major (liballm-sdk.so.N for ABI N.x).
 *
 * Each other library's ABI version is its SONAME number: bump it when that
 * library's interface changes incompatibly (an engine change such as a
 * WeightFormat or Decoder layout bumps ALLM_ENGINE_ABI, not ALLM_ABI_MAJOR).
 * A plugin built against another version then fails to load with a missing
 * dependency (liballm-engine.so.N, shown by `allm plugins`), and only the
 * plugins that link that library are affected: media handlers, tokenizers
 * and remote providers keep loading. docs/plugin-abi.md lists who links what. */
#ifndef ALLM_LIBRARY_ABI_H
#define ALLM_LIBRARY_ABI_H

#define ALLM_ENGINE_ABI 3 /* liballm-engine.so.N: compute, kernels, loaders, decoder, KV cache, sampling */
#define ALLM_JINJA_ABI 1  /* liballm-jinja.so.N: chat templates */
#define ALLM_HTTP_ABI 1   /* liballm-http.so.N: the libcurl client */

#endif
