"""Play a world model live in a browser: `server.PlayServer` serves `page.html` on 127.0.0.1
(the standard library's http.server, no framework) and steps a `stepper.Stepper` with the key
held on the page; `stepper.EmulatorStepper` is the real Atari game behind the same interface."""
