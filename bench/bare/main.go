// Command bare is the baseline for bench/forwardauth.sh: a Go HTTP server
// that answers every request with 204 and does nothing else, so the load
// script can compare Palisade's forward-auth endpoint with the fastest
// answer the same machine can give.
package main

import (
	"flag"
	"log"
	"net/http"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
}
