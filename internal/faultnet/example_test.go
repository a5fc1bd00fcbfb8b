package faultnet_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"time"

	"fieldoffice/internal/faultnet"
)

// A raw TCP echo server behind the proxy: latency on both directions, then a
// connection cut after two more bytes upstream.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	p, err := faultnet.New(ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	c, err := net.Dial("tcp", p.Addr()) // the client dials the proxy
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 4)

	p.SetLatency(faultnet.Both, 20*time.Millisecond, 0)
	start := time.Now()
	c.Write([]byte("ping"))
	io.ReadFull(c, buf)
	fmt.Println(string(buf), "after ≥ 40ms:", time.Since(start) >= 40*time.Millisecond)

	p.Clear()
	p.SetResetAfter(faultnet.Up, 2, 1) // the next 2 bytes up pass, then RST
	c.Write([]byte("ping"))
	_, err = io.ReadFull(c, buf)
	fmt.Println("reset:", errors.Is(err, syscall.ECONNRESET), "resets counted:", p.Stats().Resets)

	// Output:
	// ping after ≥ 40ms: true
	// reset: true resets counted: 1
}

// A server that stops answering: the client's timeout must fire, and the
// next request, once the network is back, must succeed.
func ExampleProxy_SetStall() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	p, err := faultnet.New(srv.Listener.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	client := &http.Client{Timeout: 300 * time.Millisecond}
	defer client.CloseIdleConnections()

	p.SetStall(faultnet.Down, true)
	_, err = client.Get("http://" + p.Addr())
	var ue *url.Error
	fmt.Println("timed out:", errors.As(err, &ue) && ue.Timeout())

	p.SetStall(faultnet.Down, false)
	resp, err := client.Get("http://" + p.Addr())
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))

	// Output:
	// timed out: true
	// 200 OK ok
}
