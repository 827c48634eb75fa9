import TelmeCLI

await TelmeCommand.run()
